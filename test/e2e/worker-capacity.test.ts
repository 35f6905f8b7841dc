/**
 * Per-worker call limit, on the real stack: with AGENT_MAX_CALLS=2 the third concurrent call gets
 * 486 Busy Here within seconds (never answered, no room left), while the two calls in progress
 * carry on: their callers keep hearing the agent after the third caller was turned away.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallRecords } from '../../src/call-records/index.js';
import {
  activeJobs,
  startAgentWorker,
  workerHealth,
  type AgentWorker,
} from '../support/agent-worker.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { placeCallExpectingRefusal } from '../support/sip-busy-call.js';
import { runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import { eventually, expectRoomDeleted, layout } from '../support/stack-env.js';

const AGENT = 'switchboard-capacity';
const LINE = '+15550171';
const MAX_CALLS = 2;
const HTTP_PORT = 8191;
const HEALTH_PORT = 8192;

let silence: string;
let line: PhoneLine;
let worker: AgentWorker;
let recordsDir: string;

beforeAll(async () => {
  const logDir = join(process.cwd(), '.stack', 'logs');
  await mkdir(logDir, { recursive: true });
  silence = await writeSilenceUlaw(await mkdtemp(join(tmpdir(), 'sb-media-')));
  // The agent prompts after 6 s of silence: speech the callers hear after call 3 is turned away.
  line = await provisionLine(LINE, { silenceTimeoutMs: 6_000 }, AGENT);
  recordsDir = await mkdtemp(join(tmpdir(), 'sb-records-capacity-'));
  worker = await startAgentWorker({
    mode: 'start',
    httpPort: HTTP_PORT,
    healthPort: HEALTH_PORT,
    env: {
      LIVEKIT_AGENT_NAME: AGENT,
      CALL_RECORDS_DIR: recordsDir,
      AGENT_MAX_CALLS: String(MAX_CALLS),
      // Only the call limit is under test here; the CPU limit is covered by unit tests.
      AGENT_MAX_CPU_PERCENT: '100',
      AGENT_IDLE_PROCESSES: '2',
    },
    logFile: join(logDir, 'agent-capacity.log'),
  });
});

afterAll(async () => {
  await worker.stop();
  await line.release();
});

describe('a worker at its call limit', () => {
  it('turns call N+1 away with 486 Busy Here while the N calls carry on', async () => {
    const callers = ['+15557670001', '+15557670002'];
    const meters = [new RtpMeter(layout.serviceIp, 24500), new RtpMeter(layout.serviceIp, 24502)];
    await Promise.all(meters.map((m) => m.start()));
    const calls = callers.map((caller, i) =>
      runSippCaller(
        sippCall(LINE, caller, silence, {
          sipPort: 25280 + i,
          mediaPort: 22800 + 10 * i,
          recordPort: 24500 + 2 * i,
          holdMs: 16_000,
        }),
      ).finally(() => meters[i]!.close()),
    );
    await eventually(
      'both calls to run on the worker',
      async () => (await activeJobs(HTTP_PORT)) === MAX_CALLS,
      40_000,
    );
    const health = await workerHealth(HEALTH_PORT);
    expect(health).toMatchObject({ httpStatus: 200, status: 'ready', activeCalls: 2, maxCalls: 2 });

    const third = '+15557670003';
    const busy = await placeCallExpectingRefusal({
      called: LINE,
      caller: third,
      sipPort: 25270,
      mediaPort: 22900,
      timeoutMs: 20_000,
    });
    const turnedAwayAt = performance.now();
    expect(busy.finalResponse).toMatch(/^SIP\/2\.0 486 /); // livekit-sip: "486 Rejected"
    expect(busy.messages.some((m) => /^SIP\/2\.0 200/.test(m.startLine))).toBe(false);
    expect(busy.elapsedMs).toBeLessThan(12_000);
    await expectRoomDeleted(third, 3_000);
    expect(await activeJobs(HTTP_PORT)).toBe(MAX_CALLS);

    const results = await Promise.all(calls);
    for (const [i, result] of results.entries()) {
      expect(result.answered).toBe(true);
      expect(result.hangup).toBe('local'); // the caller hung up at the end, not the agent
      // The silence prompt, spoken after the third caller was turned away.
      expect(meters[i]!.loudPacketsAfter(turnedAwayAt)).toBeGreaterThan(25);
    }
    await eventually('both calls to be recorded', async () => {
      const records = await readCallRecords(recordsDir);
      return callers.every((c) =>
        records.some((r) => r.caller.channel === 'phone' && r.caller.callerNumber === c),
      );
    });
    const records = await readCallRecords(recordsDir);
    expect(records.every((r) => r.outcome === 'caller_hung_up')).toBe(true);
    expect(
      records.some((r) => r.caller.channel === 'phone' && r.caller.callerNumber === third),
    ).toBe(false);
  });
});
