/**
 * Graceful drain of the production worker (`npm run agent start`), on the real stack: a SIGTERM
 * lets the call in progress finish (the caller keeps hearing the agent until the agent ends the
 * call), a new call during the drain goes to another worker or, with none, gets 486 Busy Here at
 * once, and the worker exits after its last call. A second signal ends it at once.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCallRecords } from '../../src/call-records/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { livekitCallRoomProbe } from '../../src/worker/index.js';
import {
  activeJobs,
  startAgentWorker,
  workerHealth,
  type AgentWorker,
} from '../support/agent-worker.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { placeCallExpectingRefusal } from '../support/sip-busy-call.js';
import { parseSippTrace, runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import {
  eventually,
  expectRoomDeleted,
  httpUrl,
  layout,
  roomClient,
} from '../support/stack-env.js';

const dispatchClient = () => new AgentDispatchClient(httpUrl, LOCAL_API_KEY, LOCAL_API_SECRET);

/** Its own agent name: the shared test worker never takes these calls. */
const AGENT = 'switchboard-drain';
const LINE = '+15550161';
/** The agent prompts after 6 s of silence and says goodbye and hangs up after another 6 s. */
const SILENCE_TIMEOUT_MS = 6_000;

let silence: string;
let line: PhoneLine;
const logDir = join(process.cwd(), '.stack', 'logs');
const started: AgentWorker[] = [];

async function startWorker(name: string, ports: { http: number; health: number }) {
  const recordsDir = await mkdtemp(join(tmpdir(), `sb-records-${name}-`));
  const worker = await startAgentWorker({
    mode: 'start',
    httpPort: ports.http,
    healthPort: ports.health,
    env: { LIVEKIT_AGENT_NAME: AGENT, CALL_RECORDS_DIR: recordsDir, AGENT_BUSY_GRACE_MS: '3000' },
    logFile: join(logDir, `agent-${name}.log`),
  });
  started.push(worker);
  return { worker, recordsDir };
}

beforeAll(async () => {
  await mkdir(logDir, { recursive: true });
  silence = await writeSilenceUlaw(await mkdtemp(join(tmpdir(), 'sb-media-')));
  line = await provisionLine(LINE, { silenceTimeoutMs: SILENCE_TIMEOUT_MS }, AGENT);
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await line.release();
});

describe('the production worker on SIGTERM', () => {
  it('finishes the call in progress, sends new calls elsewhere or answers busy, then exits', async () => {
    const a = await startWorker('drain-a', { http: 8181, health: 8182 });
    expect((await workerHealth(8182)).status).toBe('ready');

    // Call 1, to worker A (the only one): the caller stays on the line; the agent ends the call.
    const caller1 = '+15557660001';
    const meter = new RtpMeter(layout.serviceIp, 24400);
    await meter.start();
    const call1 = runSippCaller(
      sippCall(LINE, caller1, silence, {
        sipPort: 25250,
        mediaPort: 22500,
        recordPort: 24400,
        holdMs: 90_000,
      }),
    ).finally(() => meter.close());
    await eventually(
      'call 1 to run on worker A',
      async () => (await activeJobs(8181)) === 1,
      30_000,
    );
    await eventually('the greeting to reach caller 1', () =>
      Promise.resolve(meter.report().loudPackets > 10),
    );

    const sigtermAt = performance.now();
    a.worker.process.kill('SIGTERM');
    await eventually('worker A to report draining', async () => {
      const h = await workerHealth(8182);
      return h.httpStatus === 503 && h.status === 'draining';
    });

    // Call 2, while A drains and no other worker exists: 486 Busy Here, never answered.
    const busy = await placeCallExpectingRefusal({
      called: LINE,
      caller: '+15557660002',
      sipPort: 25260,
      mediaPort: 22600,
      timeoutMs: 20_000,
    });
    expect(busy.finalResponse).toMatch(/^SIP\/2\.0 486 /); // livekit-sip: "486 Rejected"
    expect(busy.elapsedMs).toBeLessThan(12_000);
    await expectRoomDeleted('+15557660002', 3_000);

    // Worker B comes up while A still drains; call 3 goes to B, not to A.
    const b = await startWorker('drain-b', { http: 8183, health: 8184 });
    const caller3 = '+15557660003';
    const call3 = runSippCaller(
      sippCall(LINE, caller3, silence, {
        sipPort: 25251,
        mediaPort: 22510,
        recordPort: 24402,
        holdMs: 6_000,
      }),
    );
    await eventually('call 3 to run on worker B', async () => (await activeJobs(8183)) === 1);
    // What a declining worker checks before answering busy: B's job is in the room's dispatch.
    const room3 = (await roomClient().listRooms()).find((r) => r.name.includes(caller3))?.name;
    expect(room3).toBeDefined();
    const probe = livekitCallRoomProbe({
      url: httpUrl,
      apiKey: LOCAL_API_KEY,
      apiSecret: LOCAL_API_SECRET,
    });
    expect(await probe.agentTookRoom(room3!, AGENT)).toBe(true);
    const jobs = (await dispatchClient().listDispatch(room3!)).flatMap((d) => d.state?.jobs ?? []);
    expect(jobs.map((j) => j.agentName)).toEqual([AGENT]);
    expect(await probe.agentTookRoom(room3!, 'another-agent')).toBe(false);
    const result3 = await call3;
    expect(result3.answered).toBe(true);
    expect(result3.hangup).toBe('local');
    await eventually('call 3 to be recorded by worker B', async () =>
      (await readCallRecords(b.recordsDir)).some(
        (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller3,
      ),
    );

    // Call 1 carried on through all of that and was ended by the agent (BYE to the caller).
    const result1 = await call1;
    expect(result1.answered).toBe(true);
    expect(result1.hangup).toBe('remote');
    const received = parseSippTrace(result1.messages).filter((m) => m.direction === 'received');
    expect(received.some((m) => m.startLine.startsWith('BYE sip:'))).toBe(true);
    // The silence prompt and the goodbye, spoken after the SIGTERM: > 2 s of audible packets.
    expect(meter.loudPacketsAfter(sigtermAt)).toBeGreaterThan(100);

    // A exits by itself once its call is over, with status 0; the calls are in the right records.
    const exit = await a.worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const recordsA = await readCallRecords(a.recordsDir);
    expect(recordsA.map((r) => r.caller.channel === 'phone' && r.caller.callerNumber)).toEqual([
      caller1,
    ]);
    expect(recordsA[0]?.outcome).toBe('agent_ended');
    expect(recordsA[0]?.endReason).toMatch(/silent/);
    // B still runs and is ready.
    expect((await workerHealth(8184)).status).toBe('ready');
  });

  it('exits at once on a second signal, ending the call in progress', async () => {
    const a = await startWorker('drain-force', { http: 8185, health: 8186 });
    const meter = new RtpMeter(layout.serviceIp, 24404);
    await meter.start();
    const call = runSippCaller(
      sippCall(LINE, '+15557660004', silence, {
        sipPort: 25252,
        mediaPort: 22520,
        recordPort: 24404,
        holdMs: 60_000,
      }),
    ).finally(() => meter.close());
    await eventually(
      'the call to run on the worker',
      async () => (await activeJobs(8185)) === 1,
      30_000,
    );
    await eventually('the greeting to reach the caller', () =>
      Promise.resolve(meter.report().loudPackets > 10),
    );

    a.worker.process.kill('SIGTERM');
    await eventually(
      'the worker to report draining',
      async () => (await workerHealth(8186)).status === 'draining',
    );
    const secondAt = performance.now();
    a.worker.process.kill('SIGTERM');
    const exit = await a.worker.exited;
    expect(performance.now() - secondAt).toBeLessThan(3_000);
    expect(exit).toEqual({ code: 143, signal: null });

    // With the agent gone, livekit-sip hangs the caller up.
    const result = await call;
    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('remote');
    await eventually(
      'the job processes to be gone from the room',
      async () => (await roomClient().listRooms()).every((r) => !r.name.includes('+15557660004')),
      30_000,
    );
  });

  it('with no call, exits at once with status 0, also while its idle process is still prewarming', async () => {
    const a = await startWorker('drain-idle', { http: 8187, health: 8188 });
    const sigtermAt = performance.now();
    a.worker.process.kill('SIGTERM');
    expect(await a.worker.exited).toEqual({ code: 0, signal: null });
    // The framework alone waits up to its 60 s process shutdown timeout for a prewarming process.
    expect(performance.now() - sigtermAt).toBeLessThan(5_000);
  });
});
