import { EventEmitter } from 'node:events';
import { WorkerMessage, WorkerStatus } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';
import {
  Admission,
  announceLoad,
  capacityUsage,
  cpuShareBetween,
  deriveCapacity,
  DevCallCapacity,
  machineResources,
  MEASURED_CALL_COST,
  parseMemoryLimit,
  parseProcStat,
  processTree,
  reportedLoad,
  SERVER_TARGET_LOAD,
  WorkerLoadMonitor,
  type CallCostProfile,
  type CpuSample,
  type MachineResources,
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

describe('DevCallCapacity (the development worker)', () => {
  const server = (running: number) => ({ activeJobs: Array.from<never>({ length: running }) });

  it.each([
    [0, 10],
    [3, 10],
    [7, 10],
    [10, 10],
    [12, 10],
  ])(
    'with %i of %i calls running reports a load livekit-server still offers calls at',
    async (running, max) => {
      const load = await new DevCallCapacity(max).load(server(running));
      expect(load).toBeCloseTo(reportedLoad(running / max), 5);
      expect(load).toBeLessThan(SERVER_TARGET_LOAD);
    },
  );

  it('takes calls up to its maximum, counting those taken since the last load update', async () => {
    const capacity = new DevCallCapacity(7);
    // Five running: at the server's 0.7 target, where reporting 5/7 made it stop offering calls.
    await capacity.load(server(5));
    expect(capacity.take()).toBe(true);
    expect(capacity.take()).toBe(true);
    expect(capacity.take()).toBe(false);
    // The next update sees one of them ended.
    await capacity.load(server(6));
    expect(capacity.take()).toBe(true);
    expect(capacity.take()).toBe(false);
  });
});

describe('announceLoad', () => {
  it('sends livekit-server the load at once, on the connection the framework listens with', () => {
    const event = new EventEmitter();
    const sent: Uint8Array[] = [];
    // What the framework's connection does with each worker_msg (worker.js #runWS).
    event.on('worker_msg', (msg: WorkerMessage) => sent.push(msg.toBinary()));
    announceLoad({ event }, reportedLoad(1));
    expect(sent).toHaveLength(1);
    const decoded = WorkerMessage.fromBinary(sent[0] ?? new Uint8Array()).message;
    expect(decoded.case).toBe('updateWorker');
    if (decoded.case !== 'updateWorker') return;
    expect(decoded.value.load).toBeCloseTo(reportedLoad(1), 5);
    // Available, not full: a draining worker is still asked, to answer busy when it is the last.
    expect(decoded.value.status).toBe(WorkerStatus.WS_AVAILABLE);
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

const GIB = 1024 ** 3;
/** This project's test machine: 2 cores, 24 GiB, no cgroup limit. */
const DEV_MACHINE: MachineResources = { cores: 2, memoryMiB: 24 * 1024 };

describe('the calls a machine fits (deriveCapacity)', () => {
  it.each<[string, MachineResources, Partial<CallCostProfile>, number, 'cpu' | 'memory']>([
    ['CPU-bound: 2 cores, 24 GiB (the test machine)', DEV_MACHINE, {}, 7, 'cpu'],
    ['CPU-bound: 8 cores, 32 GiB', { cores: 8, memoryMiB: 32_768 }, {}, 29, 'cpu'],
    ['memory-bound: 16 cores, 2 GiB', { cores: 16, memoryMiB: 2048 }, {}, 11, 'memory'],
    ['a tiny machine still takes one call', { cores: 1, memoryMiB: 512 }, {}, 1, 'memory'],
    ['a CPU quota of half a core: one call', { cores: 0.5, memoryMiB: 4096 }, {}, 1, 'cpu'],
    ['a CPU quota of 1.5 cores', { cores: 1.5, memoryMiB: 4096 }, {}, 5, 'cpu'],
    ['both terms equal: CPU is named', { cores: 4, memoryMiB: 2443 }, {}, 14, 'cpu'],
    ['cheaper calls (remote models, measured)', DEV_MACHINE, { cpuPerCall: 0.1 }, 16, 'cpu'],
    [
      'a whole quotient is not floored a call short (0.7 / 0.1)',
      { cores: 1, memoryMiB: 4096 },
      { cpuPerCall: 0.1, cpuHeadroomFraction: 0.3 },
      7,
      'cpu',
    ],
    [
      'heavier calls by memory',
      DEV_MACHINE,
      { cpuPerCall: 0.05, memoryPerCallMiB: 1000 },
      24,
      'memory',
    ],
  ])('%s: %i calls, limited by %s', (_name, machine, costs, maxCalls, limitedBy) => {
    const profile = { ...MEASURED_CALL_COST, ...costs };
    expect(deriveCapacity(machine, profile)).toEqual({
      maxCalls,
      limitedBy,
      inputs: { machine, profile },
    });
  });

  it('defaults to the figures measured by bench:density (bench/RESULTS.md)', () => {
    expect(MEASURED_CALL_COST).toEqual({
      cpuPerCall: 0.22,
      memoryPerCallMiB: 138,
      idleMemoryMiB: 511,
      cpuHeadroomFraction: 0.2,
    });
    expect(deriveCapacity(DEV_MACHINE).maxCalls).toBe(7);
  });
});

describe('the machine from its cgroup files', () => {
  it.each<[string | undefined, number | undefined]>([
    ['max\n', undefined],
    ['2147483648\n', 2 * GIB],
    // cgroup v1 without a limit: PAGE_COUNTER_MAX pages, above any machine's memory.
    ['9223372036854771712\n', 9223372036854771712],
    ['0', undefined],
    ['-1', undefined],
    ['', undefined],
    [undefined, undefined],
    ['garbage', undefined],
  ])('memory limit %j -> %s bytes', (text, bytes) => {
    expect(parseMemoryLimit(text)).toBe(bytes);
  });

  const host = { parallelism: 2, totalMemoryBytes: 24 * GIB };
  it.each<[string, Record<string, string>, MachineResources]>([
    ['no cgroup files: the host', {}, { cores: 2, memoryMiB: 24_576 }],
    [
      'cgroup v2, no limits ("max")',
      { '/sys/fs/cgroup/cpu.max': 'max 100000\n', '/sys/fs/cgroup/memory.max': 'max\n' },
      { cores: 2, memoryMiB: 24_576 },
    ],
    [
      'cgroup v2, a container with 1 CPU and 2 GiB',
      { '/sys/fs/cgroup/cpu.max': '100000 100000\n', '/sys/fs/cgroup/memory.max': '2147483648\n' },
      { cores: 1, memoryMiB: 2048 },
    ],
    [
      'a memory limit above the machine does not raise it',
      { '/sys/fs/cgroup/memory.max': String(64 * GIB) },
      { cores: 2, memoryMiB: 24_576 },
    ],
    [
      'cgroup v1 without limits (this test machine)',
      {
        '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
        '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
      },
      { cores: 2, memoryMiB: 24_576 },
    ],
    [
      'cgroup v1 with a 1.5 CPU quota and 3 GiB',
      {
        '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000',
        '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes': String(3 * GIB),
      },
      { cores: 1.5, memoryMiB: 3072 },
    ],
  ])('%s', (_name, files, machine) => {
    expect(machineResources((path) => files[path], host)).toEqual(machine);
  });

  it("sizes a container by its CPU quota, not the host's cores", () => {
    const machine = machineResources(
      (path) => ({ '/sys/fs/cgroup/cpu.max': '100000 100000' })[path],
      { parallelism: 16, totalMemoryBytes: 64 * GIB },
    );
    expect(deriveCapacity(machine)).toMatchObject({ maxCalls: 3, limitedBy: 'cpu' });
  });
});

describe('AGENT_MAX_CALLS and the cost per call in the environment', () => {
  function configError(env: Record<string, string>, machine = DEV_MACHINE): string {
    try {
      parseConfig(env, machine);
    } catch (err) {
      if (isSwitchboardError(err) && err.code === 'config_invalid') return err.message;
      throw err;
    }
    throw new Error('expected a configuration error');
  }

  it.each<[string, Record<string, string>, MachineResources, number, string, number]>([
    ['unset: what the test machine fits', {}, DEV_MACHINE, 7, 'cpu', 2],
    [
      'set: as set, whatever the machine',
      { AGENT_MAX_CALLS: '3' },
      DEV_MACHINE,
      3,
      'configured',
      1,
    ],
    ['unset on a 2 GiB container', {}, { cores: 16, memoryMiB: 2048 }, 11, 'memory', 3],
    ['a measured CPU cost', { AGENT_CPU_PER_CALL: '0.1' }, DEV_MACHINE, 16, 'cpu', 4],
    [
      'a measured memory cost',
      { AGENT_MEMORY_PER_CALL_MB: '500' },
      { cores: 8, memoryMiB: 4096 },
      7,
      'memory',
      2,
    ],
  ])('%s', (_name, env, machine, maxCalls, limitedBy, phoneReserved) => {
    const c = parseConfig(env, machine);
    expect(c.maxConcurrentCalls).toBe(maxCalls);
    expect(c.capacity).toMatchObject({ maxCalls, limitedBy, inputs: { machine } });
    // The default phone seats follow the resolved number: a fifth, rounded up.
    expect(c.phoneReservedCalls).toBe(phoneReserved);
  });

  it('puts the overrides in the cost profile it logs', () => {
    const c = parseConfig(
      { AGENT_CPU_PER_CALL: '0.2', AGENT_MEMORY_PER_CALL_MB: '150' },
      DEV_MACHINE,
    );
    expect(c.capacity.inputs.profile).toEqual({
      ...MEASURED_CALL_COST,
      cpuPerCall: 0.2,
      memoryPerCallMiB: 150,
    });
  });

  it.each([
    ['AGENT_CPU_PER_CALL', '0', /AGENT_CPU_PER_CALL: a share of one core above 0 and at most 8/],
    ['AGENT_CPU_PER_CALL', '-0.3', /AGENT_CPU_PER_CALL: a share of one core/],
    ['AGENT_CPU_PER_CALL', '9', /AGENT_CPU_PER_CALL: a share of one core/],
    ['AGENT_CPU_PER_CALL', '32%', /AGENT_CPU_PER_CALL: a share of one core.*0\.32 for 32 %/],
    ['AGENT_MEMORY_PER_CALL_MB', '0', /AGENT_MEMORY_PER_CALL_MB: MiB of memory per call/],
    ['AGENT_MEMORY_PER_CALL_MB', 'lots', /AGENT_MEMORY_PER_CALL_MB: MiB of memory per call/],
    // Bytes given for MiB.
    ['AGENT_MEMORY_PER_CALL_MB', '104857600', /AGENT_MEMORY_PER_CALL_MB: .*at most 65536/],
    ['AGENT_MAX_CALLS', '0', /AGENT_MAX_CALLS: /],
  ])('rejects %s=%j, naming it', (name, value, message) => {
    expect(configError({ [name]: value })).toMatch(message);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    [
      'more phone seats than AGENT_MAX_CALLS',
      { AGENT_MAX_CALLS: '2', AGENT_PHONE_RESERVED_CALLS: '3' },
      /AGENT_PHONE_RESERVED_CALLS: 3 is more than AGENT_MAX_CALLS \(2\); reserve at most all of the worker's seats$/m,
    ],
    [
      'more phone seats than the machine fits',
      { AGENT_PHONE_RESERVED_CALLS: '8' },
      /AGENT_PHONE_RESERVED_CALLS: 8 is more than AGENT_MAX_CALLS \(unset, so 7: what this machine's 2 cores and 24576 MiB fit, limited by cpu\); reserve at most all of the worker's seats, or set AGENT_MAX_CALLS/,
    ],
    [
      'more phone seats than the calls a measured cost fits',
      { AGENT_CPU_PER_CALL: '0.8', AGENT_PHONE_RESERVED_CALLS: '3' },
      /AGENT_PHONE_RESERVED_CALLS: 3 is more than AGENT_MAX_CALLS \(unset, so 2:/,
    ],
  ])('rejects %s', (_name, env, message) => {
    expect(configError(env)).toMatch(message);
  });

  it('takes every seat of the derived number for phones', () => {
    expect(parseConfig({ AGENT_PHONE_RESERVED_CALLS: '7' }, DEV_MACHINE).phoneReservedCalls).toBe(
      7,
    );
  });

  it('reports the phone seats with every other problem, and judges no seats on a malformed cost', () => {
    const message = configError({
      AGENT_PHONE_RESERVED_CALLS: '8',
      AGENT_DRAIN_TIMEOUT_MS: 'soon',
    });
    expect(message).toContain('AGENT_PHONE_RESERVED_CALLS: 8 is more than AGENT_MAX_CALLS');
    expect(message).toContain('AGENT_DRAIN_TIMEOUT_MS:');
    const malformed = configError({ AGENT_CPU_PER_CALL: 'x', AGENT_PHONE_RESERVED_CALLS: '8' });
    expect(malformed).toContain('AGENT_CPU_PER_CALL:');
    expect(malformed).not.toContain('AGENT_PHONE_RESERVED_CALLS');
  });
});
