import { describe, expect, it } from 'vitest';
import {
  Admission,
  capacityUsage,
  cpuShareBetween,
  parseProcStat,
  processTree,
  reportedLoad,
  SERVER_TARGET_LOAD,
  WorkerLoadMonitor,
  type CpuSample,
  type ProcessStat,
} from '../../src/worker/index.js';

const sample = (atMs: number, cpu: Record<number, number>): CpuSample => ({
  atMs,
  cpuMsByPid: new Map(Object.entries(cpu).map(([pid, ms]) => [Number(pid), ms])),
});

describe('cpuShareBetween', () => {
  it.each([
    ['idle worker', { 1: 100 }, { 1: 100 }, 2, 0],
    ['one core busy of two', { 1: 0 }, { 1: 1000 }, 2, 0.5],
    ['worker and two job processes', { 1: 0, 2: 0, 3: 0 }, { 1: 200, 2: 300, 3: 500 }, 4, 0.25],
    ['a job process started in the interval counts whole', { 1: 0 }, { 1: 0, 7: 400 }, 1, 0.4],
    ['a job process that ended is not counted', { 1: 0, 9: 900 }, { 1: 100 }, 1, 0.1],
    ['a reused pid counts the new process', { 1: 0, 5: 5000 }, { 1: 0, 5: 10 }, 1, 0.01],
    ['capped at the whole machine', { 1: 0 }, { 1: 5000 }, 2, 1],
  ])('%s', (_name, prev, next, cores, share) => {
    expect(cpuShareBetween(sample(0, prev), sample(1000, next), cores)).toBeCloseTo(share, 5);
  });

  it('is 0 without elapsed time', () => {
    expect(cpuShareBetween(sample(5, { 1: 0 }), sample(5, { 1: 100 }), 2)).toBe(0);
  });
});

describe('capacityUsage and reportedLoad', () => {
  it.each([
    [0, 10, 0, 0.8, 0],
    [5, 10, 0.1, 0.8, 0.5],
    [10, 10, 0.1, 0.8, 1],
    [1, 10, 0.4, 0.8, 0.5],
    [1, 10, 0.8, 0.8, 1],
  ])('%i of %i calls at CPU %f (limit %f): usage %f', (calls, max, cpu, maxCpu, usage) => {
    expect(
      capacityUsage({ activeCalls: calls, maxCalls: max, cpuShare: cpu, maxCpuShare: maxCpu }),
    ).toBeCloseTo(usage, 5);
  });

  it.each([
    [0, 0],
    [0.5, 0.345],
    [1, 0.69],
    [3, 0.69],
    [-1, 0],
  ])('usage %f is reported as %f, below the server target', (usage, load) => {
    expect(reportedLoad(usage)).toBeCloseTo(load, 5);
    expect(reportedLoad(usage)).toBeLessThan(SERVER_TARGET_LOAD);
  });
});

describe('WorkerLoadMonitor', () => {
  it('measures its own CPU between updates and combines it with the calls', async () => {
    const samples = [sample(0, { 1: 0 }), sample(2500, { 1: 1000, 2: 1500 })];
    const monitor = new WorkerLoadMonitor({
      maxCalls: 4,
      maxCpuShare: 0.5,
      cores: 2,
      sampleCpu: () => Promise.resolve(samples.shift()!),
    });
    expect(await monitor.update(1)).toBeCloseTo(0.25, 5); // first sample: calls only
    expect(await monitor.update(1)).toBeCloseTo(1, 5); // 2.5 s of CPU in 2.5 s on 2 cores = 0.5
    expect(monitor.cpuShare).toBeCloseTo(0.5, 5);
  });
});

describe('Admission', () => {
  const running = (...ids: string[]) => new Set(ids);
  const launchDeadlineMs = 60_000;

  it.each([
    ['below the limit', 2, [], 0, { accept: true }],
    ['at the call limit', 2, ['a', 'b'], 0, { accept: false, reason: 'at_call_limit' }],
    ['at the CPU limit', 2, [], 1, { accept: false, reason: 'at_cpu_limit' }],
  ] as const)('%s', (_name, maxCalls, ids, cpu, decision) => {
    const admission = new Admission({ maxCalls, cpuUsage: () => cpu, launchDeadlineMs });
    expect(admission.decide('new', running(...ids), 0)).toEqual(decision);
  });

  it('counts a job accepted but not running yet, until it runs or its launch deadline passes', () => {
    const admission = new Admission({ maxCalls: 1, cpuUsage: () => 0, launchDeadlineMs: 1000 });
    expect(admission.decide('a', running(), 0)).toEqual({ accept: true });
    // Offered together: the first one is not running yet but holds the only place.
    expect(admission.decide('b', running(), 10)).toEqual({
      accept: false,
      reason: 'at_call_limit',
    });
    expect(admission.pendingCount(running(), 10)).toBe(1);
    // Running now: counted once, as running.
    expect(admission.decide('c', running('a'), 20)).toEqual({
      accept: false,
      reason: 'at_call_limit',
    });
    expect(admission.pendingCount(running('a'), 20)).toBe(0);
    // A job that never ran holds its seat up to its deadline, not after.
    const b = new Admission({ maxCalls: 1, cpuUsage: () => 0, launchDeadlineMs: 1000 });
    b.decide('x', running(), 0);
    expect(b.decide('y', running(), 1000).accept).toBe(false);
    expect(b.decide('y', running(), 1001)).toEqual({ accept: true });
  });

  it('declines everything once draining', () => {
    const admission = new Admission({ maxCalls: 5, cpuUsage: () => 0, launchDeadlineMs });
    admission.startDraining();
    expect(admission.isDraining).toBe(true);
    expect(admission.decide('a', running(), 0)).toEqual({ accept: false, reason: 'draining' });
  });
});

describe('the worker process tree from /proc', () => {
  it.each([
    [
      'a node process',
      '4242 (node) S 4200 4242 4200 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 11 0 1000 1000000 25000 18446744073709551615',
      { pid: 4242, ppid: 4200, cpuMs: 2000, rssBytes: 25000 * 4096 },
    ],
    [
      'a command name with spaces and parentheses',
      '17 (a (b) c) R 1 17 17 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 100 7 0',
      { pid: 17, ppid: 1, cpuMs: 70, rssBytes: 7 * 4096 },
    ],
  ])('parses %s', (_name, text, stat) => {
    expect(parseProcStat(text)).toEqual(stat);
  });

  it('rejects a line that is not a stat line', () => {
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('takes the root and every process below it, not its siblings', () => {
    const p = (pid: number, ppid: number): ProcessStat => ({ pid, ppid, cpuMs: 0, rssBytes: 0 });
    const all = [p(1, 0), p(10, 1), p(11, 10), p(12, 10), p(13, 11), p(20, 1), p(21, 20)];
    expect(
      processTree(10, all)
        .map((s) => s.pid)
        .sort((a, b) => a - b),
    ).toEqual([10, 11, 12, 13]);
    expect(processTree(99, all)).toEqual([]);
  });
});
