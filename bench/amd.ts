/**
 * Outbound benchmark: answering-machine detection and outbound call set-up. The production
 * receptionist (compiled) places calls through `liveKitDialer` to SIPp callees that play
 * generated greetings: people ("hello", "hello who is this", "good morning", after 0.3-1.5 s) and
 * machines (one to three mailbox sentences with pauses, with and without a beep), each in another
 * espeak-ng voice and speed.
 *
 *   npm run bench:amd -- [--calls 40]
 *
 * Reports: accuracy per class, decision time (answer -> verdict) p50/p95, the callee's "hello"
 * -> first agent audio at the callee (RTP) p50/p95, place -> INVITE at the callee, INVITE ->
 * answer. What classifies a transcript here is the offline stand-in's keyword classifier (not an
 * LLM), and the transcripts come from pocketsphinx on espeak speech: the figures measure the
 * pipeline (voice.AMD's gates, VAD, the recognizer, timing), not a model's judgement. There is no
 * stock agents-js peer: the starter template places no calls. Bounded: at most 60 calls, one at
 * a time.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readCallRecords, type CallRecord } from '../src/call-records/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../src/config/index.js';
import { liveKitDialer } from '../src/outbound/livekit-dialer.js';
import { startAgentWorker } from '../test/support/agent-worker.js';
import { renderConversation } from '../test/support/conversation-audio.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { runSippHuman } from '../test/support/sipp-human.js';
import { eventually, httpUrl, layout, sipClient } from '../test/support/stack-env.js';
import { addBeep } from '../test/support/tones.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '40' } } });
const CALLS = Math.min(Math.max(Number(values.calls), 4), 60);
const AGENT = 'switchboard';
const TRUNK = 'bench-callees';
const SIP_PORT = 5090;
const VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-us+m3', 'en-gb+f2', 'en-us+m7', 'en+f4'];
const SPEEDS = [150, 165, 175, 190];
const PEOPLE = ['hello', 'hello who is this', 'good morning'];
const MAILBOXES: string[][] = [
  ['you have reached our voicemail', 'please leave a message after the tone'],
  ['nobody is available to take your call', 'please leave a message after the tone'],
  ['hello', 'you have reached our voicemail', 'please leave a message after the tone'],
  ['the person you are calling is not available'],
  ['you have reached our voicemail', 'nobody is available to take your call'],
];

interface Case {
  kind: 'person' | 'machine';
  lines: string[];
  voice: string;
  speed: number;
  firstAtS: number;
  beep: boolean;
}

function cases(): Case[] {
  return Array.from({ length: CALLS }, (_, i): Case => {
    const kind = i % 2 === 0 ? 'person' : 'machine';
    const k = Math.floor(i / 2);
    return {
      kind,
      lines:
        kind === 'person'
          ? [PEOPLE[k % PEOPLE.length] ?? 'hello']
          : (MAILBOXES[k % MAILBOXES.length] ?? []),
      voice: VOICES[(k + (kind === 'machine' ? 3 : 0)) % VOICES.length] ?? 'en-us',
      speed: SPEEDS[k % SPEEDS.length] ?? 175,
      firstAtS: kind === 'person' ? 0.3 + (k % 5) * 0.3 : 0.4,
      beep: kind === 'machine' && k % 2 === 0,
    };
  });
}

/** The greeting as the callee's µ-law stream; and when its speech ends (s). */
async function render(dir: string, c: Case): Promise<{ ulaw: string; speechEndS: number }> {
  const lines: { atSeconds: number; text: string }[] = [];
  let at = c.firstAtS;
  for (const text of c.lines) {
    lines.push({ atSeconds: at, text });
    // Roughly the line's length at this speed, plus a pause of 0.5-0.7 s between sentences.
    at += (text.split(' ').length * 60) / c.speed + 0.6;
  }
  const out = await renderConversation(dir, lines, 60, { voice: c.voice, wordsPerMinute: c.speed });
  const speechEndS = out.spoken.at(-1)?.endS ?? 0;
  if (!c.beep) return { ulaw: out.ulaw, speechEndS };
  const ulaw = await addBeep(out.ulaw, speechEndS + 0.4, 0.5, 1000);
  return { ulaw, speechEndS };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN);
}
const fmt = (xs: number[]) =>
  xs.length === 0
    ? 'n/a'
    : `p50 ${Math.round(percentile(xs, 50))} / p95 ${Math.round(percentile(xs, 95))} ms (n=${xs.length})`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-bench-amd-'));
  const recordsDir = join(dir, 'records');
  const worker = await startAgentWorker({
    mode: 'start',
    buildDir: process.cwd(),
    httpPort: 8097,
    healthPort: 8098,
    env: { CALL_RECORDS_DIR: recordsDir },
    logFile: join(dir, 'agent.log'),
    logLevel: 'debug',
  });
  // A run that was killed leaves its trunk behind; two of one name would be refused.
  for (const stale of await sipClient().listSipOutboundTrunk())
    if (stale.name === TRUNK) await sipClient().deleteSipTrunk(stale.sipTrunkId);
  const trunk = await sipClient().createSipOutboundTrunk(TRUNK, `${layout.serviceIp}:${SIP_PORT}`, [
    '+15550000088',
  ]);
  const dialer = liveKitDialer({
    url: httpUrl,
    apiKey: LOCAL_API_KEY,
    apiSecret: LOCAL_API_SECRET,
  });
  const rows: {
    c: Case;
    record?: CallRecord;
    helloToAgentMs?: number;
    answerToAgentMs?: number;
    placeToInviteMs?: number;
    inviteToAnswerMs?: number;
  }[] = [];
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [i, c] of cases().entries()) {
      const audio = await render(await mkdtemp(join(dir, `case-${i}-`)), c);
      const to = `+1555017${String(i).padStart(4, '0')}`;
      const meter = new RtpMeter(layout.serviceIp, 25900 + 2 * (i % 20));
      await meter.start();
      const placedAt = Date.now();
      const callee = runSippHuman({
        behaviour: 'answer',
        localIp: layout.serviceIp,
        sipPort: SIP_PORT,
        mediaPort: 23500 + 2 * (i % 20),
        recordPort: 25900 + 2 * (i % 20),
        mediaFile: audio.ulaw,
        ringMs: 300,
        timeoutMs: 40_000,
        ...(c.kind === 'person'
          ? { hangUpAfterMs: Math.round(audio.speechEndS * 1000) + 5_000 }
          : {}),
      });
      const call = await dialer.place({ to, agentName: AGENT, trunk: TRUNK });
      await call.outcome;
      const result = await callee;
      await call.ended;
      await meter.close();
      const row: (typeof rows)[number] = { c };
      const invite = /^-{10,} (\S+ \S+)\n\s*UDP message received[^\n]*\n\s*\n\s*INVITE /m.exec(
        result.messages,
      );
      if (invite?.[1] !== undefined) {
        const inviteAt = new Date(invite[1].replace(' ', 'T')).getTime();
        row.placeToInviteMs = inviteAt - placedAt;
        // The callee answers with 200 OK; its media (and its clock here) starts at the ACK.
        row.inviteToAnswerMs = callerAudioStartMsOfCallee(result.messages) - inviteAt;
      }
      const report = meter.report();
      if (
        c.kind === 'person' &&
        report.firstPacketAt !== undefined &&
        report.firstLoudAt !== undefined
      ) {
        row.helloToAgentMs = report.firstLoudAt - (report.firstPacketAt + audio.speechEndS * 1000);
        row.answerToAgentMs = report.firstLoudAt - report.firstPacketAt;
      }
      await eventually('the record', async () => {
        row.record = (await readCallRecords(recordsDir)).find((r) => r.outbound?.to === to);
        return row.record !== undefined;
      });
      rows.push(row);
      const amd = row.record?.outbound?.answeringMachine;
      process.stdout.write(
        `${i + 1}/${CALLS} ${c.kind.padEnd(7)} ${c.voice.padEnd(9)} ${String(c.speed)}wpm beep=${c.beep ? 'y' : 'n'}: ${amd?.category ?? 'none'} (${amd?.reason ?? '-'}) in ${amd?.decidedAfterAnswerMs ?? '-'} ms\n`,
      );
    }
  } finally {
    await sipClient().deleteSipTrunk(trunk.sipTrunkId);
    await worker.stop();
  }
  const judged = (kind: Case['kind']) => rows.filter((r) => r.c.kind === kind);
  const correct = (r: (typeof rows)[number]) =>
    (r.record?.outbound?.answeringMachine?.isMachine ?? false) === (r.c.kind === 'machine');
  const line = (kind: Case['kind']) => {
    const rs = judged(kind);
    return `${kind}: ${rs.filter(correct).length}/${rs.length} right`;
  };
  const decided = rows.flatMap(
    (r) => r.record?.outbound?.answeringMachine?.decidedAfterAnswerMs ?? [],
  );
  process.stdout.write(`
## Answering-machine detection (${rows.length} calls, production worker)
- accuracy: ${line('person')}, ${line('machine')}
- categories: ${JSON.stringify(Object.fromEntries(['human', 'machine-vm', 'machine-unavailable', 'machine-ivr', 'uncertain'].map((k) => [k, rows.filter((r) => r.record?.outbound?.answeringMachine?.category === k).length])))}
- decision, answer -> verdict: people ${fmt(judged('person').flatMap((r) => r.record?.outbound?.answeringMachine?.decidedAfterAnswerMs ?? []))}; machines ${fmt(judged('machine').flatMap((r) => r.record?.outbound?.answeringMachine?.decidedAfterAnswerMs ?? []))}; all ${fmt(decided)}
- callee's "hello" ends -> first agent audio at the callee: ${fmt(rows.flatMap((r) => r.helloToAgentMs ?? []))}
- answer (the callee's media starts) -> first agent audio at the callee, people: ${fmt(rows.flatMap((r) => r.answerToAgentMs ?? []))}
- place() -> INVITE at the callee: ${fmt(rows.flatMap((r) => r.placeToInviteMs ?? []))}
- INVITE -> answer (ringing 300 ms at the callee): ${fmt(rows.flatMap((r) => r.inviteToAnswerMs ?? []))}
`);
}

/** The callee's ACK (its media starts there), on the wall clock. */
function callerAudioStartMsOfCallee(messages: string): number {
  const ack = /^-{10,} (\S+ \S+)\n\s*UDP message received[^\n]*\n\s*\n\s*ACK /m.exec(messages);
  if (ack?.[1] === undefined) return NaN;
  return new Date(ack[1].replace(' ', 'T')).getTime();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
