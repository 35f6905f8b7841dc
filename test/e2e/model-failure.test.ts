/**
 * The local model server becomes unreachable in the middle of a call. The caller must hear an
 * apology (not dead air), be hung up on, and the call record must say why. The test runs its own
 * offline speech server and its own worker (agent name "switchboard-fault") so that it can end that
 * server, by pid, without touching the stack's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TECHNICAL_TROUBLE_APOLOGY } from '../../src/conversation/last-words.js';
import { activeJobs, startAgentWorker, type AgentWorker } from '../support/agent-worker.js';
import { waitForCallRecord } from '../support/call-records.js';
import { renderConversation } from '../support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { runSippCaller } from '../support/sipp.js';
import { eventually, layout } from '../support/stack-env.js';

const SPEECH_PORT = 8091;
const WORKER_PORT = 8082;
const AGENT = 'switchboard-fault';
let speech: ChildProcess;
let worker: AgentWorker | undefined;
let line: PhoneLine;

function start(argv: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const fd = openSync(join(process.cwd(), '.stack', 'logs', log), 'w');
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  return child;
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

const ok = async (url: string) => {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  speech = start(
    [
      '--import',
      'tsx',
      'stack/offline-speech/main.ts',
      '--host',
      layout.serviceIp,
      '--port',
      String(SPEECH_PORT),
    ],
    {},
    'fault-speech.log',
  );
  await eventually('the test speech server', () =>
    ok(`http://${layout.serviceIp}:${SPEECH_PORT}/health`),
  );
  worker = await startAgentWorker({
    httpPort: WORKER_PORT,
    env: {
      LIVEKIT_AGENT_NAME: AGENT,
      SWITCHBOARD_SPEECH_URL: `http://${layout.serviceIp}:${SPEECH_PORT}/v1`,
      CALL_RECORDS_DIR: inject('recordsDir'),
    },
    logFile: join(process.cwd(), '.stack', 'logs', 'fault-agent.log'),
  });
  // The idle job process prerenders its greeting and apology while the server is still up.
  await new Promise((r) => setTimeout(r, 4_000));
  line = await provisionLine('+15550131', undefined, AGENT);
});

afterAll(async () => {
  await line.release();
  await worker?.stop();
  await stop(speech, 'SIGTERM');
});

describe('model server failure', () => {
  it('the local model server unreachable mid-call: the caller hears an apology, gets a BYE, and the record says why', async () => {
    const caller = '+15557650041';
    const audio = await renderConversation(
      await mkdtemp(join(tmpdir(), 'sb-fault-')),
      [{ atSeconds: 9, text: 'hello' }],
      60,
    );
    const meter = new RtpMeter(layout.serviceIp, 24400);
    await meter.start();
    // During the greeting the server goes away; "hello" at 9 s then needs it.
    let stoppedAt = Infinity;
    const killer = setTimeout(() => {
      stoppedAt = performance.now();
      void stop(speech, 'SIGKILL');
    }, 6_000);
    const result = await runSippCaller(
      sippCall(line.number, caller, audio.ulaw, { recordPort: 24400, holdMs: 60_000 }),
    ).finally(async () => {
      clearTimeout(killer);
      await meter.close();
    });

    expect(result.hangup).toBe('remote');
    // Audible speech well after the server died and the greeting ended: the apology.
    expect(meter.loudPacketsAfter(stoppedAt + 4_000)).toBeGreaterThan(100);

    const record = await waitForCallRecord(
      'the failed call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.outcome).toBe('failed');
    expect(record.endReason).toMatch(/^the model server failed \((stt|llm|tts)_error\)$/);
    expect(record.turns.at(-1)).toMatchObject({ role: 'agent', text: TECHNICAL_TROUBLE_APOLOGY });
    await eventually(
      'the test worker to finish the job',
      async () => (await activeJobs(WORKER_PORT)) === 0,
    );
  });
});
