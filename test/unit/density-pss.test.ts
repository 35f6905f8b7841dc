import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  cpuMsBetween,
  machineBusyBetween,
  parseMachineCpu,
  parsePssBreakdown,
  parseSmapsRollup,
  parseThreadStat,
  processKind,
  threadGroup,
} from '../../bench/density/proc.js';
import { codeOrigin, summarizeCpuProfile } from '../../bench/density/profile.js';
import {
  answerTurns,
  brokenLimits,
  callsHeld,
  perCall,
  percentile,
  questionsInWindow,
  type Limit,
  type StepQuality,
} from '../../bench/density/quality.js';

/** /proc/self/smaps_rollup of `cat` on Linux 6.18. */
const ROLLUP = `560a0d019000-7fffa82ad000 ---p 00000000 00:00 0                          [rollup]
Rss:                1672 kB
Pss:                 267 kB
Pss_Dirty:           112 kB
Pss_Anon:            112 kB
Pss_File:            155 kB
Pss_Shmem:             0 kB
Shared_Clean:       1520 kB
Shared_Dirty:          0 kB
Private_Clean:        40 kB
Private_Dirty:       112 kB
Referenced:         1672 kB
Anonymous:           112 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
`;

/** A /proc/<pid>/task/<tid>/stat line: utime 150 and stime 50 ticks (2 s of CPU). */
const taskStat = (tid: number, name: string) =>
  `${tid} (${name}) S 1 1 1 0 -1 4194304 10 0 0 0 150 50 0 0 20 0 1 0 1234 1000 100`;

describe('density benchmark: /proc parsing', () => {
  it('reads PSS and its split from smaps_rollup', () => {
    expect(parseSmapsRollup(ROLLUP)).toEqual({
      rssKb: 1672,
      pssKb: 267,
      pssAnonKb: 112,
      pssFileKb: 155,
      pssShmemKb: 0,
      swapPssKb: 0,
    });
  });

  it('reads a kernel without the Pss split (before 5.7), and refuses text without Pss', () => {
    const old = ROLLUP.split('\n')
      .filter((l) => !l.startsWith('Pss_'))
      .join('\n');
    expect(parseSmapsRollup(old)).toMatchObject({ rssKb: 1672, pssKb: 267, pssAnonKb: undefined });
    expect(parseSmapsRollup('Rss: 10 kB\n')).toBeUndefined();
    expect(parseSmapsRollup('')).toBeUndefined();
  });

  it("splits a process's PSS by where it comes from (smaps)", () => {
    // A V8 page (256 KiB, anonymous), the main malloc arena, a thread's arena (anonymous, larger),
    // a shared library, and the stack (named, counted with files and the rest).
    const smaps = [
      ['3d8f26740000-3d8f26780000 rw-p 00000000 00:00 0 ', 200],
      ['55d4c9a00000-55d4cb400000 rw-p 00000000 00:00 0                          [heap]', 26_000],
      ['7f0bc8000000-7f0bc9daf000 rw-p 00000000 00:00 0 ', 9_112],
      ['7f0bce000000-7f0bce040000 rw-p 00000000 00:00 0 ', 256],
      [
        '7f0bd0000000-7f0bd0a00000 r-xp 00000000 08:01 1234   /app/rtc-node.linux-x64-gnu.node',
        9_600,
      ],
      ['7ffdcd990000-7ffdcd9b0000 rw-p 00000000 00:00 0                          [stack]', 40],
    ]
      .map(([head, pss]) => `${head}\nSize: 1 kB\nRss: 1 kB\nPss: ${pss} kB\nPss_Dirty: 0 kB\n`)
      .join('');
    expect(parsePssBreakdown(smaps)).toEqual({
      pssKb: 45_208,
      v8PagesKb: 456,
      brkKb: 26_000,
      otherAnonKb: 9_112,
      fileKb: 9_640,
    });
    expect(parsePssBreakdown('')).toBeUndefined();
  });

  it("splits all of a real process's PSS", async () => {
    const [smaps, rollup] = await Promise.all([
      readFile('/proc/self/smaps', 'utf8'),
      readFile('/proc/self/smaps_rollup', 'utf8'),
    ]);
    const b = parsePssBreakdown(smaps)!;
    expect(b.v8PagesKb + b.brkKb + b.otherAnonKb + b.fileKb).toBe(b.pssKb);
    // This process runs on while the two files are read: within a few MiB of each other.
    expect(Math.abs(b.pssKb - parseSmapsRollup(rollup)!.pssKb)).toBeLessThan(8 * 1024);
    expect(b.v8PagesKb).toBeGreaterThan(1024);
  });

  it("reads the machine's CPU from /proc/stat: idle and iowait are not busy, guest is not counted twice", () => {
    const stat =
      'cpu  3623360 5170 632425 3117124 20168 0 26060 60492 7 9\ncpu0 1 2 3 4 5 6 7 8 0 0\n';
    expect(parseMachineCpu(stat)).toEqual({ busyTicks: 4347507, totalTicks: 7484799 });
    expect(parseMachineCpu('intr 1 2 3')).toBeUndefined();
    expect(
      machineBusyBetween(
        { busyTicks: 100, totalTicks: 1000 },
        { busyTicks: 250, totalTicks: 1200 },
      ),
    ).toBeCloseTo(0.75);
    expect(
      machineBusyBetween({ busyTicks: 1, totalTicks: 5 }, { busyTicks: 1, totalTicks: 5 }),
    ).toBe(0);
  });

  it('reads a thread: its name (spaces and parentheses allowed) and CPU time', () => {
    expect(parseThreadStat(taskStat(41, 'tokio-runtime-w'))).toEqual({
      tid: 41,
      name: 'tokio-runtime-w',
      cpuMs: 2000,
    });
    expect(parseThreadStat(taskStat(42, 'V8 (Default) W'))?.name).toBe('V8 (Default) W');
    expect(parseThreadStat('garbage')).toBeUndefined();
  });

  it('counts CPU used between snapshots: new ids and reused ids with all their time', () => {
    const used = cpuMsBetween(
      new Map([
        [1, 100],
        [2, 200],
        [4, 10],
      ]),
      new Map([
        [1, 150],
        [2, 50],
        [3, 30],
      ]),
    );
    expect([...used]).toEqual([
      [1, 50],
      [2, 50],
      [3, 30],
    ]);
  });

  it('groups threads and tells the processes of a worker tree apart', () => {
    expect(threadGroup({ tid: 7, name: 'node' }, 7)).toMatch(/^main thread/);
    expect(threadGroup({ tid: 8, name: 'node' }, 7)).toMatch(/^unnamed native threads/);
    expect(threadGroup({ tid: 9, name: 'tokio-runtime-w' }, 7)).toBe('tokio-runtime-w');
    expect(threadGroup({ tid: 10, name: 'worker-12' }, 7)).toBe('worker');
    expect(processKind('node dist/agents/receptionist.js start', true)).toBe('worker');
    expect(
      processKind(
        '/usr/bin/node /app/node_modules/@livekit/agents/dist/ipc/job_proc_lazy_main.js /app/dist/agents/receptionist.js',
        false,
      ),
    ).toBe('job process');
    expect(processKind('node .../ipc/inference_proc_lazy_main.js [...]', false)).toBe(
      'inference process',
    );
    expect(processKind('sox', false)).toBe('other');
  });
});

describe('density benchmark: turns', () => {
  // The caller's audio started at 1000 ms and loops every 8 s; the question is said 2.0-3.2 s into it.
  const questions = questionsInWindow(1_000, 8_000, [{ startS: 2, endS: 3.2 }], 10_000, 30_000);

  it('lists the questions whose whole time to be answered lies inside the window', () => {
    expect(questions).toEqual([
      { startMs: 11_000, endMs: 12_200, deadlineMs: 19_000 },
      { startMs: 19_000, endMs: 20_200, deadlineMs: 27_000 },
    ]);
    expect(questionsInWindow(0, 8_000, [], 0, 100_000)).toEqual([]);
  });

  const range = (from: number, to: number) =>
    Array.from({ length: Math.floor((to - from) / 20) + 1 }, (_, i) => from + 20 * i);

  it('measures an answer from the end of the question, not from audio still playing', () => {
    // An earlier answer ends at 12100, before the question ends; the answer starts at 12800 with a
    // 300 ms hole in it; nothing answers the second question.
    const loud = [...range(11_500, 12_100), ...range(12_800, 13_500), ...range(13_800, 14_800)];
    const [first, second] = answerTurns(questions, loud);
    expect(first?.latencyMs).toBe(600);
    expect(first?.longestQuietMs).toBe(300);
    expect(second?.latencyMs).toBeUndefined();
  });

  it('does not take audio running across the end of the question for its answer', () => {
    // Loud until 12400 (past the end, 12200), 400 ms of quiet, loud again: one utterance.
    const loud = [...range(11_500, 12_400), ...range(12_800, 13_500)];
    expect(answerTurns(questions, loud)[0]?.latencyMs).toBeUndefined();
    // After 600 ms of quiet it is a new utterance: the answer.
    const later = [...range(11_500, 12_400), ...range(13_000, 13_500)];
    expect(answerTurns(questions, later)[0]?.latencyMs).toBe(800);
  });

  it('uses the nearest-rank percentile of the other benchmarks', () => {
    expect(percentile([500, 100, 300, 200, 400], 50)).toBe(300);
    expect(percentile([500, 100, 300, 200, 400], 95)).toBe(500);
    expect(percentile([], 95)).toBeNaN();
  });
});

describe('density benchmark: stop rule', () => {
  const ok: StepQuality = {
    calls: 2,
    turns: 6,
    unanswered: 0,
    latencyP95Ms: 700,
    longestGapMs: 40,
    callsNotAnswered: 0,
    callsDropped: 0,
  };

  it('holds a step within 1.5x the single-call p95, no gap over 100 ms and every turn answered', () => {
    expect(brokenLimits(ok, 500)).toEqual([]);
    expect(brokenLimits({ ...ok, latencyP95Ms: 750, longestGapMs: 100 }, 500)).toEqual([]);
  });

  it('names every limit a step breaks', () => {
    expect(brokenLimits({ ...ok, latencyP95Ms: 751 }, 500)).toEqual(['latency p95']);
    expect(brokenLimits({ ...ok, longestGapMs: 101 }, 500)).toEqual(['RTP gap']);
    expect(brokenLimits({ ...ok, unanswered: 1 }, 500)).toEqual(['turn unanswered']);
    expect(brokenLimits({ ...ok, turns: 0, latencyP95Ms: NaN }, 500)).toEqual(['no turn measured']);
    expect(brokenLimits({ ...ok, callsNotAnswered: 1, callsDropped: 1 }, 500)).toEqual([
      'call not answered',
      'call dropped',
    ]);
  });

  it('does not hold the single call against itself', () => {
    expect(brokenLimits({ ...ok, calls: 1, latencyP95Ms: 2_000 }, 500)).toEqual([]);
    expect(brokenLimits({ ...ok, calls: 1, longestGapMs: 180 }, NaN)).toEqual(['RTP gap']);
  });

  it('counts the calls held up to the first broken step, and the cost per call', () => {
    const step = (calls: number, broken: Limit[] = []) => ({ calls, broken });
    expect(callsHeld([step(1), step(2), step(3, ['RTP gap']), step(4)])).toBe(2);
    expect(callsHeld([step(1, ['turn unanswered'])])).toBe(0);
    expect(callsHeld([step(1), step(2)])).toBe(2);
    expect(perCall(1_500, 700, 4)).toBe(200);
    expect(perCall(1_500, 700, 0)).toBeNaN();
  });
});

describe('density benchmark: CPU profile summary', () => {
  it('tells where code comes from', () => {
    const at = (url: string, functionName = 'f') => codeOrigin({ functionName, url });
    expect(at('file:///app/node_modules/@livekit/agents/dist/voice/agent.js')).toBe(
      '@livekit/agents',
    );
    expect(at('file:///app/node_modules/a/node_modules/onnxruntime-node/dist/x.js')).toBe(
      'onnxruntime-node',
    );
    expect(at('node:internal/timers')).toBe('Node built-ins (node:*)');
    expect(at('file:///app/dist/src/call/run-call.js')).toBe('switchboard (this package)');
    expect(at('', '(garbage collector)')).toBe('(garbage collector)');
    expect(at('', 'write')).toBe('(native or unnamed)');
  });

  it('sums self time by origin and by function, as shares of the profile', () => {
    const node = (id: number, functionName: string, url: string, hitCount: number) => ({
      id,
      callFrame: { functionName, url, lineNumber: 9, columnNumber: 0 },
      hitCount,
    });
    const summary = summarizeCpuProfile({
      startTime: 0,
      endTime: 100_000,
      nodes: [
        node(1, '(root)', '', 0),
        node(2, '(program)', '', 10),
        node(
          3,
          'captureFrame',
          'file:///app/node_modules/@livekit/rtc-node/dist/audio_source.js',
          30,
        ),
        node(4, 'onTurn', 'file:///app/dist/src/call/run-call.js', 20),
        node(5, '(garbage collector)', '', 40),
      ],
    });
    expect(summary.durationMs).toBe(100);
    expect(summary.byOrigin.map((o) => [o.name, o.share])).toEqual([
      ['(garbage collector)', 0.4],
      ['@livekit/rtc-node', 0.3],
      ['switchboard (this package)', 0.2],
      ['(program)', 0.1],
    ]);
    expect(summary.topFunctions[1]).toMatchObject({
      name: 'captureFrame',
      where: '@livekit/rtc-node/dist/audio_source.js:10',
      ms: 30,
    });
  });
});
