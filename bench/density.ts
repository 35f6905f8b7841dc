/**
 * Density benchmark (issue 15, item 1): how many calls at once one production worker (compiled,
 * `start`) holds on this machine, with the whole stack beside it, before call quality breaks, and
 * what each call costs. In one run, this package's receptionist and the stock agents-js baseline
 * (agents/baseline.ts), one after the other, each with its own worker on its own number, take the
 * same steps:
 *
 *   - idle: the worker tree's PSS and CPU with no call;
 *   - then one more call per step, each a SIPp caller holding a scripted conversation (espeak-ng
 *     asks "where are you located" every --every-s seconds for the whole call, so VAD, STT, LLM
 *     and TTS all work), settle --settle-s, then measure over --window-s (twice that at one call,
 *     for the single-call reference): per turn, end of caller speech -> first agent audio at that
 *     caller's RTP meter; turns not answered before the next question; the longest time without
 *     an RTP packet at any caller; the worker tree's PSS (smaps_rollup, summed) and CPU
 *     (utime+stime deltas), the machine's CPU;
 *   - until a limit breaks: turn latency p95 above 1.5x the single-call figure, an RTP gap over
 *     100 ms at a caller, a turn unanswered (or a call not answered, or one dropped), or until
 *     --max-calls or --max-minutes.
 *
 * It reports calls held, PSS and CPU per call ((at n calls - idle) / n), where the memory of a job
 * process in a call goes (V8's heap, malloc, files), where the CPU goes (by
 * process, by thread of the busiest job process, and with --profile a V8 CPU profile of that job
 * process under load), side by side, and writes every figure to a JSON file.
 *
 *   npm run bench:density -- --max-calls 8 [--profile]
 *
 * Runs inside the stack's network (npm run bench:density brings the stack up and down); all
 * traffic is to the stack's service address, and the profiler's to the namespace's loopback.
 * Bounded: at most --max-calls (≤ 16) calls and --max-minutes (≤ 30) per agent; every SIPp and
 * worker process it starts is ended by pid. A benchmark, not a test: nothing asserts a target.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { activeJobs, startAgentWorker, type AgentWorker } from '../test/support/agent-worker.js';
import { renderConversation, type SpokenLine } from '../test/support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { callerAudioStartMs, runSippCaller, type SippResult } from '../test/support/sipp.js';
import { layout, roomClient } from '../test/support/stack-env.js';
import {
  cpuMsBetween,
  machineBusyBetween,
  readMachineCpu,
  readPssBreakdown,
  readPssKb,
  readThreads,
  readTree,
  threadGroup,
  type ProcessKind,
  type PssBreakdown,
} from './density/proc.js';
import { profileProcess, summarizeCpuProfile, type ProfileSummary } from './density/profile.js';
import {
  answerTurns,
  brokenLimits,
  callsHeld,
  ISSUE_LIMITS,
  perCall,
  percentile,
  questionsInWindow,
  type Limit,
  type Turn,
} from './density/quality.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    'max-calls': { type: 'string', default: '8' },
    'max-minutes': { type: 'string', default: '10' },
    'every-s': { type: 'string', default: '8' },
    'settle-s': { type: 'string', default: '10' },
    'window-s': { type: 'string', default: '24' },
    profile: { type: 'boolean', default: false },
    'profile-s': { type: 'string', default: '15' },
  },
});
function bounded(name: keyof typeof values, fallback: number, lo: number, hi: number): number {
  const n = Number(values[name]);
  return Number.isFinite(n) ? Math.min(Math.max(n, lo), hi) : fallback;
}
const MAX_CALLS = Math.round(bounded('max-calls', 8, 1, 16));
const MAX_MINUTES = bounded('max-minutes', 10, 2, 30);
/**
 * Seconds between questions. 8 by default, not less: the baseline answers ~2.6 s after the end of
 * a ~1.2 s question (bench/RESULTS.md) and its answer ("We are at one Main Street, next to the
 * station.") lasts ~3 s, so a shorter interval would start the next question inside its answer
 * and the turns measured would be barge-ins.
 */
const EVERY_S = bounded('every-s', 8, 5, 30);
const SETTLE_S = bounded('settle-s', 10, 5, 60);
const WINDOW_S = bounded('window-s', 24, 2 * EVERY_S, 120);
const PROFILE = values.profile;
const PROFILE_S = bounded('profile-s', 15, 5, 60);
const COMMAND = [
  'npm run bench:density --',
  `--max-calls ${MAX_CALLS} --max-minutes ${MAX_MINUTES} --every-s ${EVERY_S}`,
  `--settle-s ${SETTLE_S} --window-s ${WINDOW_S}`,
  ...(PROFILE ? [`--profile --profile-s ${PROFILE_S}`] : []),
].join(' ');

/** In the offline grammar, answered with one short sentence by both agents (scripted dialog). */
const QUESTION = 'where are you located';
/** Where the question starts in each cycle of the caller's audio. Unit: s. */
const QUESTION_AT_S = 2;
const ANSWER_TIMEOUT_MS = 30_000;
/** The idle worker: wait for prewarming to end (CPU below this share of a core), then measure. */
const IDLE_QUIET_SHARE = 0.1;
const IDLE_QUIET_MAX_MS = 90_000;
/**
 * A job process using at least this share of a core over a window is in a call: one in a call
 * used 5-18 % here, an idle (prewarmed) one under 1 %.
 */
const IN_CALL_CPU_SHARE = 0.02;
const IDLE_WINDOW_MS = 10_000;
const KB_PER_MIB = 1024;

/** Ends the run early on SIGINT/SIGTERM: the waits of the ramp reject, the finally blocks clean up. */
const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());
process.once('SIGTERM', () => interrupted.abort());
const wait = (ms: number) => sleep(ms, undefined, { signal: interrupted.signal });

interface Agent {
  label: string;
  /** The file of agents/ to run. */
  file: string;
  line: string;
  agentName: string;
  httpPort: number;
  healthPort?: number;
  env: NodeJS.ProcessEnv;
  /** Keeps this agent's SIPp ports and caller numbers apart from the other's. */
  slot: number;
}

interface Caller {
  number: string;
  meter: RtpMeter;
  abort: AbortController;
  result: Promise<SippResult | Error>;
  /** First RTP packet from livekit-sip (performance.now() clock): the caller's audio started. */
  answeredAt?: number;
  /** When SIPp ended (performance.now() clock). */
  endedAt?: number;
  hungUpByBench: boolean;
}

/** One measurement window over the worker's tree and the machine. */
interface WindowReading {
  fromMs: number;
  toMs: number;
  processes: number;
  pssKb: number;
  /** CPU of the worker's tree, in shares of one core (1 = one core all the time). */
  treeCpu: number;
  cpuByKind: Partial<Record<ProcessKind, number>>;
  /** The whole machine's CPU, 0..1 of all its cores. */
  machineBusy: number;
  /** The benchmark's own event loop: its longest delay (a late timestamp of an RTP packet). */
  loopDelayMaxMs: number;
  busiestJob?: { pid: number; cpu: number; threads: { name: string; cpu: number }[] };
  /**
   * The job process in a call (over IN_CALL_CPU_SHARE of a core in the window) with the median
   * PSS, by where its memory is, and how many were in a call.
   */
  callJobMemory?: PssBreakdown & { pid: number; inCall: number };
}

interface Step extends Omit<WindowReading, 'fromMs' | 'toMs'> {
  calls: number;
  windowMs: number;
  activeJobs: number;
  turns: number;
  unanswered: number;
  latencyMs: number[];
  latencyP50Ms: number;
  latencyP95Ms: number;
  longestGapMs: number;
  /** Longest time between two loud packets inside an answer (pauses and holes in its audio). */
  longestQuietInAnswerMs: number;
  callsNotAnswered: number;
  callsDropped: number;
  broken: Limit[];
}

interface AgentResult {
  agent: Agent;
  idle: WindowReading;
  steps: Step[];
  held: number;
  stoppedBy: string;
  /** The step the per-call figures are taken at: the last held one, else the first. */
  at?: Step;
  pssPerCallKb: number;
  cpuPerCall: number;
  profile?: { file: string; pid: number; summary: ProfileSummary } | { error: string };
  /** First RTP packet at the meter - 200 OK in SIPp's trace, per answered call (ms). */
  anchorOffsetsMs: number[];
}

const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : '-');
const mib = (kb: number) => (Number.isFinite(kb) ? `${(kb / KB_PER_MIB).toFixed(0)} MiB` : '-');
const pct = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(0)} %` : '-');
const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : '-';

async function readWindow(
  rootPid: number,
  windowMs: number,
  loop: IntervalHistogram,
): Promise<WindowReading> {
  const tree0 = await readTree(rootPid);
  const machine0 = await readMachineCpu();
  const jobs0 = tree0.filter((p) => p.kind === 'job process').map((p) => p.pid);
  const threads0 = new Map(
    await Promise.all(jobs0.map(async (pid) => [pid, await readThreads(pid)] as const)),
  );
  const fromMs = performance.now();
  loop.reset();
  const pss: number[] = [];
  for (let i = 0; i < 2; i++) {
    await wait(windowMs / 2);
    pss.push((await readPssKb((await readTree(rootPid)).map((p) => p.pid))).pssKb);
  }
  const tree1 = await readTree(rootPid);
  const machine1 = await readMachineCpu();
  const toMs = performance.now();
  const loopDelayMaxMs = loop.max / 1e6;
  pss.push((await readPssKb(tree1.map((p) => p.pid))).pssKb);

  const used = cpuMsBetween(
    new Map(tree0.map((p) => [p.pid, p.cpuMs])),
    new Map(tree1.map((p) => [p.pid, p.cpuMs])),
  );
  const elapsed = Math.max(1, toMs - fromMs);
  const cpuByKind: Partial<Record<ProcessKind, number>> = {};
  let treeCpu = 0;
  let busiest: { pid: number; cpu: number } | undefined;
  for (const p of tree1) {
    const share = (used.get(p.pid) ?? 0) / elapsed;
    treeCpu += share;
    cpuByKind[p.kind] = (cpuByKind[p.kind] ?? 0) + share;
    if (p.kind === 'job process' && (busiest === undefined || share > busiest.cpu))
      busiest = { pid: p.pid, cpu: share };
  }
  let busiestJob: WindowReading['busiestJob'];
  const job = busiest;
  if (job !== undefined) {
    const before = threads0.get(job.pid) ?? [];
    const after = await readThreads(job.pid);
    const names = new Map(after.map((t) => [t.tid, threadGroup(t, job.pid)]));
    const threadUsed = cpuMsBetween(
      new Map(before.map((t) => [t.tid, t.cpuMs])),
      new Map(after.map((t) => [t.tid, t.cpuMs])),
    );
    const groups = new Map<string, number>();
    for (const [tid, cpuMs] of threadUsed) {
      const name = names.get(tid) ?? String(tid);
      groups.set(name, (groups.get(name) ?? 0) + cpuMs / elapsed);
    }
    busiestJob = {
      ...job,
      threads: [...groups]
        .map(([name, cpu]) => ({ name, cpu }))
        .filter((t) => t.cpu >= 0.005)
        .sort((a, b) => b.cpu - a.cpu),
    };
  }
  const inCall = tree1.filter(
    (p) => p.kind === 'job process' && (used.get(p.pid) ?? 0) / elapsed >= IN_CALL_CPU_SHARE,
  );
  const breakdowns = (
    await Promise.all(
      inCall.map(async (p) => {
        const b = await readPssBreakdown(p.pid);
        return b === undefined ? undefined : { ...b, pid: p.pid };
      }),
    )
  )
    .filter((b) => b !== undefined)
    .sort((a, b) => a.pssKb - b.pssKb);
  const median = breakdowns[Math.floor((breakdowns.length - 1) / 2)];
  return {
    fromMs,
    toMs,
    processes: tree1.length,
    pssKb: percentile(pss, 50),
    treeCpu,
    cpuByKind,
    machineBusy:
      machine0 === undefined || machine1 === undefined
        ? NaN
        : machineBusyBetween(machine0, machine1),
    loopDelayMaxMs,
    ...(busiestJob === undefined ? {} : { busiestJob }),
    ...(median === undefined ? {} : { callJobMemory: { ...median, inCall: breakdowns.length } }),
  };
}

/** Waits until the worker tree uses less than IDLE_QUIET_SHARE of a core (prewarming done). */
async function waitQuiet(rootPid: number): Promise<void> {
  const deadline = performance.now() + IDLE_QUIET_MAX_MS;
  let prev = await readTree(rootPid);
  let at = performance.now();
  while (performance.now() < deadline) {
    await wait(2_000);
    const next = await readTree(rootPid);
    const now = performance.now();
    const used = cpuMsBetween(
      new Map(prev.map((p) => [p.pid, p.cpuMs])),
      new Map(next.map((p) => [p.pid, p.cpuMs])),
    );
    const share = [...used.values()].reduce((a, b) => a + b, 0) / (now - at);
    if (share < IDLE_QUIET_SHARE) return;
    prev = next;
    at = now;
  }
  console.log(
    `  (the idle worker still used CPU after ${IDLE_QUIET_MAX_MS / 1000} s; measured anyway)`,
  );
}

function placeCall(agent: Agent, k: number, mediaFile: string, holdMs: number): Caller {
  const n = 20 * agent.slot + k;
  const meter = new RtpMeter(layout.serviceIp, 26700 + 2 * n);
  const abort = new AbortController();
  const caller: Caller = {
    number: `+1555780${agent.slot}${String(k).padStart(4, '0')}`,
    meter,
    abort,
    result: Promise.resolve(new Error('not started')),
    hungUpByBench: false,
  };
  caller.result = meter
    .start()
    .then(() =>
      runSippCaller(
        sippCall(agent.line, caller.number, mediaFile, {
          sipPort: 25700 + n,
          mediaPort: 23000 + 10 * n,
          recordPort: 26700 + 2 * n,
          answerTimeoutMs: ANSWER_TIMEOUT_MS,
          holdMs,
        }),
        abort.signal,
      ),
    )
    .then(
      (r) => r,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    )
    .finally(() => (caller.endedAt = performance.now()));
  return caller;
}

/** Ends every call: deletes its room (livekit-sip sends BYE), then SIGTERMs a SIPp still running. */
async function hangUp(callers: Caller[]): Promise<void> {
  for (const c of callers) c.hungUpByBench = true;
  try {
    const rooms = await roomClient().listRooms();
    await Promise.all(
      rooms
        .filter((r) => callers.some((c) => r.name.includes(c.number)))
        .map((r) => roomClient().deleteRoom(r.name)),
    );
  } catch (err) {
    console.error(`  could not delete the call rooms: ${String(err)}`);
  }
  const grace = new AbortController();
  await Promise.race([
    Promise.allSettled(callers.map((c) => c.result)),
    sleep(20_000, undefined, { signal: grace.signal }).catch(() => undefined),
  ]);
  grace.abort();
  for (const c of callers) if (c.endedAt === undefined) c.abort.abort();
  await Promise.allSettled(callers.map((c) => c.result));
  await Promise.allSettled(callers.map((c) => c.meter.close()));
}

function evaluate(
  calls: number,
  callers: Caller[],
  w: WindowReading,
  cycleMs: number,
  spoken: SpokenLine[],
  referenceP95Ms: number,
  jobs: number,
): Step {
  const turns: Turn[] = [];
  let longestGapMs = 0;
  for (const c of callers) {
    if (c.answeredAt === undefined) continue;
    const questions = questionsInWindow(c.answeredAt, cycleMs, spoken, w.fromMs, w.toMs);
    turns.push(...answerTurns(questions, c.meter.loudTimestamps()));
    longestGapMs = Math.max(longestGapMs, c.meter.longestGapMs(w.fromMs, w.toMs));
  }
  const latencyMs = turns.flatMap((t) => (t.latencyMs === undefined ? [] : [t.latencyMs]));
  const quiet = turns.flatMap((t) => (t.longestQuietMs === undefined ? [] : [t.longestQuietMs]));
  const { fromMs, toMs, ...reading } = w;
  const step: Omit<Step, 'broken'> = {
    ...reading,
    calls,
    windowMs: toMs - fromMs,
    activeJobs: jobs,
    turns: turns.length,
    unanswered: turns.length - latencyMs.length,
    latencyMs,
    latencyP50Ms: percentile(latencyMs, 50),
    latencyP95Ms: percentile(latencyMs, 95),
    longestGapMs,
    longestQuietInAnswerMs: quiet.length === 0 ? NaN : Math.max(...quiet),
    callsNotAnswered: 0,
    callsDropped: callers.filter((c) => c.endedAt !== undefined && !c.hungUpByBench).length,
  };
  return { ...step, broken: brokenLimits(step, calls === 1 ? NaN : referenceP95Ms) };
}

async function runAgent(
  agent: Agent,
  audio: { ulaw: string; spoken: SpokenLine[]; cycleMs: number },
  outDir: string,
): Promise<AgentResult> {
  console.log(`\n${agent.label} (line ${agent.line}):`);
  const deadline = performance.now() + MAX_MINUTES * 60_000;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const callers: Caller[] = [];
  let worker: AgentWorker | undefined;
  try {
    worker = await startAgentWorker({
      mode: 'start',
      buildDir: process.cwd(),
      agent: agent.file,
      httpPort: agent.httpPort,
      ...(agent.healthPort === undefined ? {} : { healthPort: agent.healthPort }),
      env: agent.env,
      logFile: join(outDir, `${agent.file}.log`),
      logLevel: 'info',
    });
    const pid = worker.process.pid;
    if (pid === undefined) throw new Error('the worker has no pid');
    await waitQuiet(pid);
    const idle = await readWindow(pid, IDLE_WINDOW_MS, loop);
    console.log(
      `  idle: worker tree PSS ${mib(idle.pssKb)} (${idle.processes} processes), CPU ${pct(idle.treeCpu)} of a core`,
    );

    const steps: Step[] = [];
    let stoppedBy = `--max-calls ${MAX_CALLS}`;
    let busiestPid: number | undefined;
    for (let n = 1; n <= MAX_CALLS; n++) {
      const windowMs = (n === 1 ? 2 : 1) * WINDOW_S * 1000;
      if (performance.now() + 5_000 + SETTLE_S * 1000 + windowMs > deadline) {
        stoppedBy = `--max-minutes ${MAX_MINUTES}`;
        break;
      }
      const holdMs = Math.ceil(deadline - performance.now()) + 60_000;
      const caller = placeCall(agent, n, audio.ulaw, holdMs);
      callers.push(caller);
      const answerBy = performance.now() + ANSWER_TIMEOUT_MS + 5_000;
      while (
        caller.meter.report().firstPacketAt === undefined &&
        caller.endedAt === undefined &&
        performance.now() < answerBy
      )
        await wait(50);
      const first = caller.meter.report().firstPacketAt;
      if (first === undefined) {
        const step: Step = {
          calls: n,
          windowMs: 0,
          activeJobs: NaN,
          turns: 0,
          unanswered: 0,
          latencyMs: [],
          latencyP50Ms: NaN,
          latencyP95Ms: NaN,
          longestGapMs: NaN,
          longestQuietInAnswerMs: NaN,
          processes: NaN,
          pssKb: NaN,
          treeCpu: NaN,
          cpuByKind: {},
          machineBusy: NaN,
          loopDelayMaxMs: NaN,
          callsNotAnswered: 1,
          callsDropped: 0,
          broken: ['call not answered'],
        };
        steps.push(step);
        printStep(step);
        stoppedBy = 'a limit';
        break;
      }
      caller.answeredAt = first;
      await wait(SETTLE_S * 1000);
      const w = await readWindow(pid, windowMs, loop);
      const jobs = await activeJobs(agent.httpPort).catch(() => NaN);
      const step = evaluate(
        n,
        callers,
        w,
        audio.cycleMs,
        audio.spoken,
        steps[0]?.latencyP95Ms ?? NaN,
        jobs,
      );
      steps.push(step);
      printStep(step);
      busiestPid = step.busiestJob?.pid ?? busiestPid;
      if (step.broken.length > 0) {
        stoppedBy = 'a limit';
        break;
      }
    }

    let profile: AgentResult['profile'];
    // Signalled only while it is still one of this worker's job processes (not a reused pid).
    const stillJob = async (p: number) =>
      (await readTree(pid)).some((t) => t.pid === p && t.kind === 'job process');
    if (PROFILE && busiestPid !== undefined && (await stillJob(busiestPid))) {
      try {
        console.log(`  profiling job process ${busiestPid} for ${PROFILE_S} s under load`);
        const cpuProfile = await profileProcess(busiestPid, PROFILE_S * 1000);
        const file = join(outDir, `${agent.file}-job-${busiestPid}.cpuprofile`);
        await writeFile(file, JSON.stringify(cpuProfile));
        profile = { file, pid: busiestPid, summary: summarizeCpuProfile(cpuProfile) };
      } catch (err) {
        profile = { error: String(err) };
        console.log(`  profile failed: ${String(err)}`);
      }
    }

    const held = callsHeld(steps);
    const at = steps.find((s) => s.calls === Math.max(1, held));
    // SIPp's traces are complete once its calls have ended.
    await hangUp(callers);
    const anchorOffsetsMs = await anchorOffsets(callers);
    return {
      agent,
      idle,
      steps,
      held,
      stoppedBy,
      ...(at === undefined ? {} : { at }),
      pssPerCallKb: at === undefined ? NaN : perCall(at.pssKb, idle.pssKb, at.calls),
      cpuPerCall: at === undefined ? NaN : perCall(at.treeCpu, idle.treeCpu, at.calls),
      ...(profile === undefined ? {} : { profile }),
      anchorOffsetsMs,
    };
  } finally {
    await hangUp(callers); // again after an error; a no-op for calls already ended
    if (worker !== undefined) {
      const deadlineJobs = Date.now() + 30_000;
      while (Date.now() < deadlineJobs && (await activeJobs(agent.httpPort).catch(() => 0)) > 0)
        await sleep(500);
      await worker.stop();
    }
    loop.disable();
  }
}

/** Checks the live anchor (first RTP packet) against SIPp's traced 200 OK, once SIPp has ended. */
async function anchorOffsets(callers: Caller[]): Promise<number[]> {
  const out: number[] = [];
  for (const c of callers) {
    const r = await c.result;
    if (r instanceof Error || !r.answered || c.answeredAt === undefined) continue;
    try {
      out.push(performance.timeOrigin + c.answeredAt - callerAudioStartMs(r));
    } catch {
      // no 200 OK in the trace: nothing to check against
    }
  }
  return out;
}

const STEP_HEADER = [
  '| calls | turns answered | latency p50 / p95 | longest RTP gap | longest quiet in an answer | worker tree PSS | tree CPU (of one core) | machine busy | bench loop max | limits broken |',
  '| ----- | -------------- | ----------------- | --------------- | -------------------------- | --------------- | ---------------------- | ------------ | -------------- | ------------- |',
];
let headerPrinted = false;

function printStep(s: Step): void {
  if (!headerPrinted) {
    for (const line of STEP_HEADER) console.log(`  ${line}`);
    headerPrinted = true;
  }
  console.log(
    `  | ${s.calls} | ${s.turns - s.unanswered}/${s.turns} | ${ms(s.latencyP50Ms)} / ${ms(s.latencyP95Ms)} | ${ms(s.longestGapMs)} | ${ms(s.longestQuietInAnswerMs)} | ${mib(s.pssKb)} | ${pct(s.treeCpu)} | ${pct(s.machineBusy)} | ${ms(s.loopDelayMaxMs)} | ${s.broken.join(', ') || '-'} |`,
  );
}

/** Where the CPU and the memory of the step the per-call figures are taken at go. */
function printWhereTheCostGoes(r: AgentResult): void {
  const at = r.at;
  if (at === undefined) return;
  console.log(`\n  where the CPU goes at ${at.calls} call(s) (shares of one core):`);
  const kinds = Object.entries(at.cpuByKind)
    .map(([kind, cpu]) => `${kind} ${pct(cpu)}`)
    .join(', ');
  console.log(`    by process: ${kinds}`);
  if (at.busiestJob !== undefined) {
    console.log(
      `    busiest job process (pid ${at.busiestJob.pid}, ${pct(at.busiestJob.cpu)}), by thread: ${at.busiestJob.threads.map((t) => `${t.name} ${pct(t.cpu)}`).join(', ')}`,
    );
  }
  const m = at.callJobMemory;
  if (m !== undefined)
    console.log(
      `  where the memory goes at ${at.calls} call(s): the median job process in a call (pid ${m.pid}, of ${m.inCall}), PSS ${mib(m.pssKb)}: V8 heap pages ${mib(m.v8PagesKb)}, main malloc arena ([heap]) ${mib(m.brkKb)}, other anonymous (other threads' arenas, stacks, V8 large objects) ${mib(m.otherAnonKb)}, files ${mib(m.fileKb)}`,
    );
  const p = r.profile;
  if (p === undefined) return;
  if ('error' in p) {
    console.log(`    profile: failed (${p.error})`);
    return;
  }
  console.log(
    `    profile of job process ${p.pid} (main thread, ${(p.summary.durationMs / 1000).toFixed(0)} s, at the last step's load): ${p.file}`,
  );
  console.log(
    `      by origin: ${p.summary.byOrigin
      .slice(0, 8)
      .map((o) => `${o.name} ${pct(o.share)}`)
      .join(', ')}`,
  );
  for (const f of p.summary.topFunctions.slice(0, 8))
    console.log(`      ${pct(f.share).padStart(4)}  ${f.name}  ${f.where}`);
}

function firstBroken(r: AgentResult): string {
  const step = r.steps.find((s) => s.broken.length > 0);
  if (step === undefined) return `none (stopped by ${r.stoppedBy})`;
  const detail = step.broken.map((limit) =>
    limit === 'RTP gap'
      ? `RTP gap ${ms(step.longestGapMs)}`
      : limit === 'latency p95'
        ? `latency p95 ${ms(step.latencyP95Ms)}`
        : limit === 'turn unanswered'
          ? `${step.unanswered} turn(s) unanswered`
          : limit,
  );
  return `${detail.join(', ')} at ${step.calls} call(s)`;
}

async function main(): Promise<void> {
  await run('npm', ['run', 'build']);
  const outDir = await mkdtemp(join(tmpdir(), 'sb-density-'));
  const rendered = await renderConversation(
    outDir,
    [{ atSeconds: QUESTION_AT_S, text: QUESTION }],
    EVERY_S,
  );
  // SIPp loops the file: its length (8000 bytes a second) is the interval between questions.
  const cycleMs = ((await stat(rendered.ulaw)).size / 8000) * 1000;
  const audio = { ulaw: rendered.ulaw, spoken: rendered.spoken, cycleMs };
  const ours: Agent = {
    label: 'switchboard receptionist',
    file: 'receptionist',
    line: '+15550193',
    agentName: 'switchboard-bench-density',
    httpPort: 8301,
    healthPort: 8302,
    env: {
      LIVEKIT_AGENT_NAME: 'switchboard-bench-density',
      // Capacity is what is measured: no admission limit below the benchmark's own.
      AGENT_MAX_CALLS: String(MAX_CALLS),
      AGENT_MAX_CPU_PERCENT: '100',
      CALL_RECORDS_DIR: await mkdtemp(join(outDir, 'records-')),
    },
    slot: 0,
  };
  const base: Agent = {
    label: 'stock agents-js baseline',
    file: 'baseline',
    line: '+15550194',
    agentName: 'baseline',
    httpPort: 8303,
    env: {},
    slot: 1,
  };
  const agents = [ours, base];
  console.log(
    `density, production workers, one call added per step; questions every ${(cycleMs / 1000).toFixed(2)} s; settle ${SETTLE_S} s, window ${WINDOW_S} s (${2 * WINDOW_S} s at one call); limits: turn latency p95 > ${ISSUE_LIMITS.latencyFactor}x one call's, an RTP gap > ${ISSUE_LIMITS.maxGapMs} ms at a caller, a turn unanswered`,
  );
  console.log(`files (logs, JSON, profiles): ${outDir}`);
  const lines: PhoneLine[] = [];
  const results: AgentResult[] = [];
  try {
    for (const a of agents) lines.push(await provisionLine(a.line, undefined, a.agentName));
    for (const a of agents) {
      headerPrinted = false;
      const r = await runAgent(a, audio, outDir);
      results.push(r);
      console.log(
        `  calls held ${r.held}; first limit broken: ${firstBroken(r)}; per call at ${r.at?.calls ?? '-'}: PSS ${mib(r.pssPerCallKb)}, CPU ${pct(r.cpuPerCall)} of a core`,
      );
      printWhereTheCostGoes(r);
      console.log(
        `  check of the turn clock: first RTP packet at the caller - 200 OK in SIPp's trace, p50 ${ms(percentile(r.anchorOffsetsMs, 50))}, max ${ms(Math.max(...r.anchorOffsetsMs.map(Math.abs)))} (absolute)`,
      );
    }
  } finally {
    for (const line of lines) await line.release();
  }

  const [o, b] = results;
  if (o !== undefined && b !== undefined) {
    const row = (name: string, x: string, y: string, q = '') =>
      console.log(`| ${name} | ${x} | ${y} | ${q} |`);
    console.log(`\n${COMMAND}\n`);
    console.log('|  | switchboard | baseline | ratio (baseline / switchboard) |');
    console.log('| --- | --- | --- | --- |');
    row('calls held', String(o.held), String(b.held), ratio(b.held, o.held));
    row('first limit broken', firstBroken(o), firstBroken(b));
    row(
      'turn latency p95, one call',
      ms(o.steps[0]?.latencyP95Ms ?? NaN),
      ms(b.steps[0]?.latencyP95Ms ?? NaN),
      ratio(b.steps[0]?.latencyP95Ms ?? NaN, o.steps[0]?.latencyP95Ms ?? NaN),
    );
    row(
      'worker tree PSS idle',
      mib(o.idle.pssKb),
      mib(b.idle.pssKb),
      ratio(b.idle.pssKb, o.idle.pssKb),
    );
    row(
      `PSS per call (at ${o.at?.calls ?? '-'} / ${b.at?.calls ?? '-'} calls)`,
      mib(o.pssPerCallKb),
      mib(b.pssPerCallKb),
      ratio(b.pssPerCallKb, o.pssPerCallKb),
    );
    row(
      'CPU per call (of one core)',
      pct(o.cpuPerCall),
      pct(b.cpuPerCall),
      ratio(b.cpuPerCall, o.cpuPerCall),
    );
  }
  const json = join(outDir, 'density.json');
  await writeFile(
    json,
    JSON.stringify(
      {
        command: COMMAND,
        limits: ISSUE_LIMITS,
        questionEveryMs: cycleMs,
        results: results.map((r) => ({ ...r, agent: r.agent.label })),
      },
      (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    ),
  );
  console.log(`\nall figures: ${json}`);
}

await main();
