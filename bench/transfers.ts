/**
 * Warm transfer benchmark: N sequential warm transfers per hand-off method, from a SIPp caller to
 * a SIPp human who accepts on the keypad. Prints, per transfer and as p50/p95:
 *   - REFER: human accepts (the agent receives the DTMF) -> NOTIFY 200 processed (the REFER API
 *     call returned), from the call record
 *   - bridge: human accepts -> first packet of the human's 440 Hz tone at the caller (RTP decoded,
 *     Goertzel), with the accept time from the call record (same machine clock)
 *
 *   npm run bench:transfers -- --transfers 20
 *
 * Runs inside the stack's network (the npm script brings the stack up and down) with its own
 * agent worker. A benchmark, not a test: nothing here asserts a target. Bounded: at most 30 per
 * method.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readCallRecords } from '../src/call-records/index.js';
import { startAgentWorker } from '../test/support/agent-worker.js';
import { renderConversation } from '../test/support/conversation-audio.js';
import { provisionLine, sippCall } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { runSippHuman } from '../test/support/sipp-human.js';
import { dtmfSteps, runSippCaller } from '../test/support/sipp.js';
import { AGENT_HTTP_PORT, eventually, layout, sipClient } from '../test/support/stack-env.js';
import { writeToneUlaw } from '../test/support/tones.js';

const { values } = parseArgs({ options: { transfers: { type: 'string', default: '10' } } });
const transfers = Math.min(Math.max(Number(values.transfers), 1), 30);
const HUMAN_NUMBER = '+15550009999';
const HUMAN_PORT = 5070;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}

const dir = await mkdtemp(join(tmpdir(), 'sb-bench-transfer-'));
const recordsDir = join(dir, 'records');
const callerAudio = (
  await renderConversation(dir, [{ atSeconds: 8, text: 'connect me to an operator' }], 120)
).ulaw;
const humanTone = await writeToneUlaw(dir, 440, 120);
const agent = await startAgentWorker({
  httpPort: AGENT_HTTP_PORT,
  env: { CALL_RECORDS_DIR: recordsDir },
  logFile: join(dir, 'agent.log'),
  logLevel: 'info',
});
const trunk = await sipClient().createSipOutboundTrunk(
  'bench human',
  `${layout.serviceIp}:${HUMAN_PORT}`,
  ['+15550000000'],
);
const results: Record<'refer' | 'bridge', number[]> = { refer: [], bridge: [] };
try {
  await new Promise((r) => setTimeout(r, 3_000)); // let the idle job process finish prewarming
  let n = 0;
  for (const method of ['refer', 'bridge'] as const) {
    const line = await provisionLine('+15550160', {
      transfer: {
        human: {
          number: HUMAN_NUMBER,
          outboundTrunkId: trunk.sipTrunkId,
          referTo: `sip:${HUMAN_NUMBER}@${layout.serviceIp}:${HUMAN_PORT}`,
        },
        strategy: method === 'refer' ? 'refer_first' : 'bridge_only',
      },
    });
    try {
      for (let i = 0; i < transfers; i++) {
        const caller = `+1555766${String(n++).padStart(4, '0')}`;
        const meter = new RtpMeter(layout.serviceIp, 24500, 440);
        await meter.start();
        const human = runSippHuman({
          behaviour: 'answer',
          localIp: layout.serviceIp,
          sipPort: HUMAN_PORT,
          mediaPort: 22500,
          recordPort: 24502,
          mediaFile: humanTone,
          ringMs: 300,
          timeoutMs: 60_000,
          afterAnswer: dtmfSteps('1', 1000),
        });
        const call = runSippCaller(
          sippCall('+15550160', caller, callerAudio, {
            recordPort: 24500,
            holdMs: method === 'refer' ? 60_000 : 35_000,
            ...(method === 'refer' ? { onRefer: 'accept' as const } : {}),
          }),
        );
        await Promise.all([call, human]).finally(() => meter.close());
        let transfer:
          Awaited<ReturnType<typeof readCallRecords>>[number]['transfers'][number] | undefined;
        await eventually('the call record', async () => {
          const record = (await readCallRecords(recordsDir)).find(
            (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
          );
          transfer = record?.transfers.at(-1);
          return record !== undefined;
        });
        if (transfer?.status !== 'completed' || transfer.acceptedAt === undefined) {
          console.log(`${method} #${i + 1}: not completed (${transfer?.status ?? 'no transfer'})`);
          continue;
        }
        const accepted = Date.parse(transfer.acceptedAt) - performance.timeOrigin;
        const ms =
          method === 'refer'
            ? Date.parse(transfer.connectedAt ?? '') - Date.parse(transfer.acceptedAt)
            : (meter.firstToneAfter(accepted) ?? Number.NaN) - accepted;
        results[method].push(ms);
        console.log(`${method} #${i + 1}: accept -> connected ${ms.toFixed(0)} ms`);
      }
    } finally {
      await line.release();
    }
  }
} finally {
  await sipClient().deleteSipTrunk(trunk.sipTrunkId);
  await agent.stop();
}
for (const method of ['refer', 'bridge'] as const) {
  const xs = results[method].filter((x) => Number.isFinite(x));
  console.log(
    `${method}: ${xs.length}/${transfers} completed; human accepts -> caller connected p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms`,
  );
}
