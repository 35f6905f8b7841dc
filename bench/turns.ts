/**
 * Turn latency benchmark: one SIP call in which the caller asks a question every 11 seconds
 * (espeak-ng phrases streamed by SIPp), answered through the offline pipeline. Per turn:
 *   - end of caller speech -> first non-silent agent audio at the caller (from the script's
 *     timing and the RTP meter), and
 *   - where the time went, from the agent's call record (agents framework metrics): the
 *     end-of-utterance wait after VAD end of speech, STT, LLM first token, TTS first byte.
 *
 *   npm run bench:turns -- --turns 20
 *
 * Bounded: at most 40 turns (one call of ~7 minutes). A benchmark, not a test: no targets asserted.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readCallRecords } from '../src/call-records/index.js';
import { startAgentWorker } from '../test/support/agent-worker.js';
import { renderConversation, type ScriptedLine } from '../test/support/conversation-audio.js';
import { provisionLine, sippCall } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { parseSippTrace, runSippCaller } from '../test/support/sipp.js';
import { AGENT_HTTP_PORT, eventually, layout } from '../test/support/stack-env.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { turns: { type: 'string', default: '20' } } });
const turns = Math.min(Math.max(Number(values.turns), 1), 40);
const PHRASES = ['what are your opening hours', 'where are you located'];
const FIRST_AT_S = 9;
const EVERY_S = 11;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}
const fmt = (xs: number[]) =>
  `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-turns-'));
  const agent = await startAgentWorker({
    httpPort: AGENT_HTTP_PORT,
    env: { CALL_RECORDS_DIR: dir },
    logFile: join(dir, 'agent.log'),
    logLevel: 'info',
  });
  const line = await provisionLine('+15550160');
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    const script: ScriptedLine[] = Array.from({ length: turns }, (_, i) => ({
      atSeconds: FIRST_AT_S + i * EVERY_S,
      text: PHRASES[i % PHRASES.length] ?? '',
    }));
    const audio = await renderConversation(dir, script, FIRST_AT_S + turns * EVERY_S + 30);
    // Each phrase's length, to know when the caller stopped speaking.
    const durations: number[] = [];
    for (const [i] of script.entries())
      durations.push(Number((await run('soxi', ['-D', join(dir, `line-${i}.wav`)])).stdout.trim()));

    const meter = new RtpMeter(layout.serviceIp, 26100);
    await meter.start();
    const result = await runSippCaller(
      sippCall(line.number, '+15557700100', audio.ulaw, {
        recordPort: 26100,
        holdMs: (FIRST_AT_S + turns * EVERY_S) * 1000,
      }),
    ).finally(() => meter.close());
    // RTP from SIPp starts with the ACK, right after the 200 OK.
    const okBlock = /^-{10,} (\S+ \S+)\n\s*UDP message received[^\n]*\n\s*\n\s*SIP\/2\.0 200/m.exec(
      result.messages,
    );
    if (
      okBlock?.[1] === undefined ||
      !parseSippTrace(result.messages).some((m) => m.startLine.startsWith('SIP/2.0 200'))
    )
      throw new Error('the call was not answered');
    const audioStart = new Date(okBlock[1].replace(' ', 'T')).getTime();
    const loud = meter.loudTimestamps().map((t) => performance.timeOrigin + t);

    const atCaller: number[] = [];
    script.forEach((line, i) => {
      const speechEnd = audioStart + (line.atSeconds + (durations[i] ?? 0)) * 1000;
      const first = loud.find((t) => t > speechEnd);
      if (first !== undefined && first - speechEnd < EVERY_S * 1000)
        atCaller.push(first - speechEnd);
    });
    await eventually('the call record', async () => (await readCallRecords(dir)).length > 0);
    const record = (await readCallRecords(dir))[0];
    const t = record?.turnTimings ?? [];
    const understood =
      record?.turns.filter((x) => x.role === 'caller' && PHRASES.includes(x.text)).length ?? 0;

    console.log(
      `${turns} caller turns, ${understood} transcribed as said, ${atCaller.length} answered with audio`,
    );
    console.log(
      "settings: Silero VAD minSilenceDuration 550 ms; endpointing min 500 ms / max 3000 ms (framework defaults); turn detector: the framework's local audio EOT model",
    );
    console.log(`end of caller speech -> first agent audio at the caller (RTP): ${fmt(atCaller)}`);
    console.log(
      `  end-of-utterance delay (VAD end of speech -> end of turn): ${fmt(t.map((x) => x.endOfUtteranceDelayMs))}`,
    );
    console.log(
      `  transcription delay (VAD end of speech -> transcript):     ${fmt(t.map((x) => x.transcriptionDelayMs))}`,
    );
    console.log(
      `  LLM time to first token:                                    ${fmt(t.flatMap((x) => (x.llmTtftMs === undefined ? [] : [x.llmTtftMs])))}`,
    );
    console.log(
      `  TTS time to first byte:                                     ${fmt(t.flatMap((x) => (x.ttsTtfbMs === undefined ? [] : [x.ttsTtfbMs])))}`,
    );
    const residual = atCaller
      .map((total, i) => {
        const x = t[i];
        if (x === undefined) return NaN;
        return (
          total -
          550 -
          Math.max(x.endOfUtteranceDelayMs, x.transcriptionDelayMs) -
          (x.llmTtftMs ?? 0) -
          (x.ttsTtfbMs ?? 0)
        );
      })
      .filter((x) => !Number.isNaN(x));
    console.log(`  remainder (transport, audio pipeline, scheduling):         ${fmt(residual)}`);
  } finally {
    await line.release();
    await agent.stop();
  }
}

await main();
