/**
 * Turn-taking benchmark. In one run, on the same stack and the same offline models, this
 * package's receptionist (the production worker, compiled) and the stock agents-js baseline
 * (agents/baseline.ts, the starter template's shape) each take three SIP calls, each on its own
 * line, from SIPp callers speaking espeak-ng phrases:
 *
 *   1. latency: complete questions; end of caller speech -> first agent audio at the caller (RTP);
 *   2. pauses: questions with a 300-800 ms pause mid-sentence ("what are ... your opening
 *      hours"); the share the agent answers before the caller has finished;
 *   3. barge-in: the caller starts a new question while the agent is answering; caller speech
 *      start -> the agent's audio at the caller below -40 dBFS.
 *
 *   npm run bench:turns -- --turns 20 [--line-options '{"turnTaking":{"detector":"vad"}}']
 *
 * Bounded: at most 40 turns per call (one call of ~8 minutes). A benchmark, not a test: no
 * targets asserted. For this package's agent it also prints where the time went (from the call
 * record): end-of-turn decision, transcript, LLM first token, TTS first byte, and the turn
 * detector's probabilities.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readCallRecords, type CallRecord } from '../src/call-records/index.js';
import { startAgentWorker, type AgentWorker } from '../test/support/agent-worker.js';
import {
  renderConversation,
  type ScriptedLine,
  type SpokenLine,
} from '../test/support/conversation-audio.js';
import { provisionLine, sippCall } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { callerAudioStartMs, runSippCaller } from '../test/support/sipp.js';
import { eventually, layout } from '../test/support/stack-env.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    turns: { type: 'string', default: '20' },
    // This package's line's call options, e.g. '{"turnTaking":{"detector":"vad"}}', to measure
    // another turn-taking policy against the same baseline.
    'line-options': { type: 'string' },
  },
});
const LINE_OPTIONS =
  values['line-options'] === undefined ? undefined : (JSON.parse(values['line-options']) as object);
const TURNS = Math.min(Math.max(Number(values.turns), 2), 40);
const QUESTIONS = ['what are your opening hours', 'where are you located'];
/** A question split where a caller may stop to think; both parts are in the offline grammar. */
const PAUSED: [string, string][] = [
  ['what are', 'your opening hours'],
  ['where are', 'you located'],
  ['book an appointment for', 'tomorrow morning'],
];
const PAUSES_MS = [300, 450, 600, 800];
const FIRST_AT_S = 9;
const EVERY_S = 12;
/**
 * An agent's audio counts as stopped at the last loud packet before this much silence at the
 * caller: longer than the pauses inside its sentences (espeak-ng's comma pause is ~300 ms),
 * shorter than the time to its answer to the interrupting question. Unit: ms.
 */
const STOPPED_GAP_MS = 600;

interface Agent {
  label: string;
  line: string;
  agentName: string;
  worker?: AgentWorker;
  recordsDir?: string;
  /** From the latency call: where to barge in (into the middle of the answer). */
  answerAfterMs?: number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}
const ms = (x: number) => `${Number.isNaN(x) ? '-' : x.toFixed(0)} ms`;
const p50p95 = (xs: number[]) => `p50 ${ms(percentile(xs, 50))}, p95 ${ms(percentile(xs, 95))}`;

/** One call: the caller's audio and when each line was said; the agent's loud packets, on the same clock. */
async function call(
  agent: Agent,
  caller: string,
  script: ScriptedLine[],
  port: number,
): Promise<{ spoken: SpokenLine[]; loudMs: number[]; audioStartMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-turns-'));
  const last = script.at(-1)?.atSeconds ?? 0;
  const audio = await renderConversation(dir, script, last + 40);
  const meter = new RtpMeter(layout.serviceIp, port);
  await meter.start();
  const result = await runSippCaller(
    sippCall(agent.line, caller, audio.ulaw, {
      recordPort: port,
      holdMs: Math.ceil((last + 12) * 1000),
    }),
  ).finally(() => meter.close());
  const audioStart = callerAudioStartMs(result);
  const loudMs = meter.loudTimestamps().map((t) => performance.timeOrigin + t - audioStart);
  return { spoken: audio.spoken, loudMs, audioStartMs: audioStart };
}

function latencyScript(): ScriptedLine[] {
  return Array.from({ length: TURNS }, (_, i) => ({
    atSeconds: FIRST_AT_S + i * EVERY_S,
    text: QUESTIONS[i % QUESTIONS.length] ?? '',
  }));
}

async function latency(agent: Agent): Promise<number[]> {
  const { spoken, loudMs } = await call(agent, '+15557700101', latencyScript(), 26100);
  const out: number[] = [];
  for (const line of spoken) {
    const end = line.endS * 1000;
    const first = loudMs.find((t) => t > end);
    if (first !== undefined && first - end < (EVERY_S - 2) * 1000) out.push(first - end);
  }
  return out;
}

async function pauses(agent: Agent): Promise<{ premature: number; said: number; after: number[] }> {
  const script = Array.from({ length: TURNS }, (_, i) => {
    const [first, rest] = PAUSED[i % PAUSED.length] ?? ['', ''];
    return {
      atSeconds: FIRST_AT_S + i * EVERY_S,
      text: first,
      continuation: { pauseMs: PAUSES_MS[i % PAUSES_MS.length] ?? 500, text: rest },
    };
  });
  const { spoken, loudMs } = await call(agent, '+15557700102', script, 26102);
  let premature = 0;
  const after: number[] = [];
  for (const line of spoken) {
    const pause = line.pause;
    if (pause === undefined) continue;
    const first = loudMs.find((t) => t > pause.startS * 1000);
    if (first === undefined) continue;
    if (first < line.endS * 1000) premature++;
    else after.push(first - line.endS * 1000);
  }
  return { premature, said: spoken.length, after };
}

/** One barge-in, on the wall clock: the caller's first sound sent, the agent's last sound heard. */
interface BargeIn {
  sentAtMs: number;
  stoppedAtMs: number;
}

async function bargeIn(
  agent: Agent,
): Promise<{ stops: number[]; tried: number; bargeIns: BargeIn[] }> {
  // Question, then a second question started this long after the first one ended: inside the
  // agent's answer (which lasts about four seconds).
  // 700 ms into the answer: inside its first words. Later, a turn latency 100 ms longer than the
  // run before put every barge-in into the comma pause after "Friday," (1.2-1.4 s in), where the
  // agent was already quiet and no barge-in counted.
  const into = (agent.answerAfterMs ?? 1_000) + 700;
  const script: ScriptedLine[] = [];
  for (let i = 0; i < TURNS; i++) {
    script.push({ atSeconds: FIRST_AT_S + i * 2 * EVERY_S, text: QUESTIONS[0] ?? '' });
  }
  const rendered = await mkdtemp(join(tmpdir(), 'sb-barge-'));
  // Where each question ends, to place the interruption: espeak's length of the question.
  await run('espeak-ng', ['-v', 'en-us', '-w', join(rendered, 'q.wav'), QUESTIONS[0] ?? '']);
  const questionS = Number((await run('soxi', ['-D', join(rendered, 'q.wav')])).stdout.trim());
  const withBarge: ScriptedLine[] = script.flatMap((line) => [
    line,
    { atSeconds: line.atSeconds + questionS + into / 1000, text: QUESTIONS[1] ?? '' },
  ]);
  const { spoken, loudMs, audioStartMs } = await call(agent, '+15557700103', withBarge, 26104);
  const stops: number[] = [];
  const bargeIns: BargeIn[] = [];
  let tried = 0;
  for (let i = 1; i < spoken.length; i += 2) {
    const start = (spoken[i]?.startS ?? 0) * 1000;
    // Only interruptions of an agent that was speaking count.
    if (!loudMs.some((t) => t > start - 100 && t <= start)) continue;
    tried++;
    let lastLoud = start;
    for (const t of loudMs) {
      if (t <= start) continue;
      if (t - lastLoud >= STOPPED_GAP_MS) break;
      lastLoud = t;
    }
    stops.push(lastLoud + 20 - start);
    bargeIns.push({ sentAtMs: audioStartMs + start, stoppedAtMs: audioStartMs + lastLoud + 20 });
  }
  return { stops, tried, bargeIns };
}

/**
 * Where a barge-in's time went, from the agent's records (dated on the same clock): the caller's
 * first sound -> the VAD deciding they speak (livekit-sip, the SFU, the job's audio input and the
 * VAD's windows); -> the agent's audio paused (the framework); -> silence at the caller (the
 * paused output, the SFU, livekit-sip's mixer).
 */
function whereTheBargeInTimeWent(bargeIns: BargeIn[], records: CallRecord[]): void {
  const heard = records.flatMap((r) =>
    r.bargeIns.map((b) => ({
      heardAtMs: Date.parse(b.heardAt),
      stoppedAfterMs: b.stoppedAfterMs,
      onsetPausedAtMs: b.onsetPausedAt === undefined ? undefined : Date.parse(b.onsetPausedAt),
    })),
  );
  const toVad: number[] = [];
  const toPause: number[] = [];
  const toCaller: number[] = [];
  const toOnset: number[] = [];
  const onsetToCaller: number[] = [];
  for (const b of bargeIns) {
    const h = heard.find((x) => x.heardAtMs > b.sentAtMs && x.heardAtMs < b.stoppedAtMs);
    if (h === undefined) continue;
    toVad.push(h.heardAtMs - b.sentAtMs);
    toPause.push(h.stoppedAfterMs);
    toCaller.push(b.stoppedAtMs - h.heardAtMs - h.stoppedAfterMs);
    if (h.onsetPausedAtMs !== undefined) {
      toOnset.push(h.onsetPausedAtMs - b.sentAtMs);
      onsetToCaller.push(b.stoppedAtMs - h.onsetPausedAtMs);
    }
  }
  console.log(`    barge-ins matched to the records: ${toVad.length}/${bargeIns.length}`);
  console.log(`    caller's first sound -> VAD hears speech:   ${p50p95(toVad)}`);
  console.log(`    VAD hears speech -> agent audio paused:     ${p50p95(toPause)}`);
  console.log(`    agent audio paused -> silence at the caller: ${p50p95(toCaller)}`);
  console.log(
    `    of those, paused at the onset of speech first: ${toOnset.length}/${toVad.length}`,
  );
  if (toOnset.length > 0) {
    console.log(`    caller's first sound -> onset pause:         ${p50p95(toOnset)}`);
    console.log(`    onset pause -> silence at the caller:        ${p50p95(onsetToCaller)}`);
  }
}

function whereTheTimeWent(records: CallRecord[]): void {
  const t = records.flatMap((r) => r.turnTimings);
  const some = (f: (x: CallRecord['turnTimings'][number]) => number | undefined) =>
    t.flatMap((x) => {
      const v = f(x);
      return v === undefined ? [] : [v];
    });
  console.log(
    `    end of speech -> end of turn decided:   ${p50p95(some((x) => x.endOfUtteranceDelayMs))}`,
  );
  console.log(
    `    end of speech -> final transcript:      ${p50p95(some((x) => x.transcriptionDelayMs))}`,
  );
  console.log(`    LLM first token:                        ${p50p95(some((x) => x.llmTtftMs))}`);
  console.log(`    TTS first byte:                         ${p50p95(some((x) => x.ttsTtfbMs))}`);
  const probs = some((x) => x.endOfTurnProbability);
  const unlikely = t.filter(
    (x) =>
      x.endOfTurnProbability !== undefined &&
      x.endOfTurnThreshold !== undefined &&
      x.endOfTurnProbability < x.endOfTurnThreshold,
  ).length;
  console.log(
    `    turn detector on the turns answered: ${probs.length} predictions, ${unlikely} "unlikely finished"; probability p50 ${percentile(probs, 50).toFixed(2)}`,
  );
}

async function main(): Promise<void> {
  await run('npm', ['run', 'build'], { cwd: process.cwd() });
  const ours: Agent = {
    label: 'switchboard receptionist',
    line: '+15550160',
    agentName: 'switchboard',
  };
  const base: Agent = {
    label: 'stock agents-js baseline',
    line: '+15550170',
    agentName: 'baseline',
  };
  const lines = [
    await provisionLine(ours.line, LINE_OPTIONS, ours.agentName),
    await provisionLine(base.line, undefined, base.agentName),
  ];
  try {
    ours.recordsDir = await mkdtemp(join(tmpdir(), 'sb-turns-records-'));
    ours.worker = await startAgentWorker({
      mode: 'start',
      buildDir: process.cwd(),
      httpPort: 8097,
      healthPort: 8098,
      env: { CALL_RECORDS_DIR: ours.recordsDir },
      logFile: join(ours.recordsDir, 'agent.log'),
      logLevel: 'debug',
    });
    base.worker = await startAgentWorker({
      mode: 'start',
      buildDir: process.cwd(),
      agent: 'baseline',
      httpPort: 8099,
      env: {},
      logFile: join(ours.recordsDir, 'baseline.log'),
      logLevel: 'info',
    });
    await new Promise((r) => setTimeout(r, 3_000));

    const results = new Map<
      Agent,
      {
        latency: number[];
        pauses: Awaited<ReturnType<typeof pauses>>;
        barge: Awaited<ReturnType<typeof bargeIn>>;
      }
    >();
    for (const agent of [ours, base]) {
      const lat = await latency(agent);
      // Into the answer of every turn, also the slowest: after the latest answer start.
      agent.answerAfterMs = Math.max(...lat);
      results.set(agent, {
        latency: lat,
        pauses: await pauses(agent),
        barge: await bargeIn(agent),
      });
    }

    console.log(
      `turn-taking, ${TURNS} turns per call, same stack and models, production workers${LINE_OPTIONS === undefined ? '' : `; switchboard line options ${JSON.stringify(LINE_OPTIONS)}`}`,
    );
    for (const agent of [ours, base]) {
      const r = results.get(agent);
      if (r === undefined) continue;
      console.log(`\n${agent.label} (line ${agent.line}):`);
      console.log(
        `  end of caller speech -> first agent audio (RTP), ${r.latency.length}/${TURNS} answered: ${p50p95(r.latency)}`,
      );
      console.log(
        `  pauses of ${PAUSES_MS.join('/')} ms mid-sentence: ${r.pauses.premature}/${r.pauses.said} answered before the caller finished (${((100 * r.pauses.premature) / Math.max(1, r.pauses.said)).toFixed(0)} %); the rest answered ${p50p95(r.pauses.after)} after the end`,
      );
      console.log(
        `  barge-in, caller speech start -> agent audio below -40 dBFS at the caller, ${r.barge.stops.length}/${r.barge.tried} stopped: ${p50p95(r.barge.stops)}`,
      );
    }
    const ro = results.get(ours);
    const rb = results.get(base);
    if (ro !== undefined && rb !== undefined)
      console.log(
        `\nratio (baseline / switchboard), latency p50: ${(percentile(rb.latency, 50) / percentile(ro.latency, 50)).toFixed(2)}, p95: ${(percentile(rb.latency, 95) / percentile(ro.latency, 95)).toFixed(2)}`,
      );
    await eventually(
      'the call records',
      async () => (await readCallRecords(ours.recordsDir ?? '')).length >= 3,
      30_000,
    );
    console.log(`\n${ours.label}, where the time went (call records, all three calls):`);
    const records = await readCallRecords(ours.recordsDir);
    whereTheTimeWent(records);
    if (ro !== undefined) whereTheBargeInTimeWent(ro.barge.bargeIns, records);
  } finally {
    for (const line of lines) await line.release();
    await ours.worker?.stop();
    await base.worker?.stop();
  }
}

await main();
