/**
 * The production build runs the same phone call as the development worker (test/e2e/phone.test.ts),
 * the way the Docker image runs it: `npm run build`, then only dist/ and the package files in a
 * fresh directory, `npm ci --omit=dev` there (no tsx, TypeScript or vitest), and plain
 * `node dist/agents/receptionist.js start`. The test runs inside the stack's network, which has no
 * route to the registry, so npm installs from its local cache (`--offline`); the Dockerfile runs
 * the same commands online.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallRecords } from '../../src/call-records/index.js';
import {
  DEFAULT_JOB_MALLOC_ARENAS,
  DEFAULT_JOB_SEMI_SPACE_MB,
  readProcessTree,
} from '../../src/worker/index.js';
import { startAgentWorker, workerHealth, type AgentWorker } from '../support/agent-worker.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { parseSippTrace, runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import { eventually, layout, roomClient } from '../support/stack-env.js';

const run = promisify(execFile);

/** What a job process forked during a call showed: its hold, and its CPU while held and after. */
interface SpareProcess {
  pid: number;
  /** The hold in its command line (the gate's URL in the inherited execArgv). Unit: ms. */
  holdMs: number;
  /** The young-generation limit in its command line (inherited execArgv). Unit: MiB. */
  semiSpaceMb: number;
  /** glibc's arena limit in its environment (inherited). */
  mallocArenaMax: string | undefined;
  firstSeenAt: number;
  /** Highest CPU time read until 300 ms before its hold ended, from when it was first seen. */
  cpuMsHeld: number;
  /** How many readings fell inside the hold. */
  heldReadings: number;
  cpuMsLast: number;
}

/**
 * Watches the worker's tree for job processes started after `before` (the framework forks the
 * next idle one as a call takes the current one) until `signal` aborts.
 */
async function watchSpareProcesses(
  workerPid: number,
  before: ReadonlySet<number>,
  signal: AbortSignal,
): Promise<SpareProcess[]> {
  const seen = new Map<number, SpareProcess>();
  while (!signal.aborted) {
    for (const p of await readProcessTree(workerPid)) {
      if (before.has(p.pid) || p.pid === workerPid) continue;
      let cmdline: string;
      let environ: string[];
      try {
        cmdline = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
        environ = (await readFile(`/proc/${p.pid}/environ`, 'utf8')).split('\0');
      } catch {
        continue; // exited
      }
      if (!cmdline.includes('job_proc_lazy_main')) continue;
      const hold = /spare-process-gate\.js\?holdMs=(\d+)/.exec(cmdline)?.[1];
      const entry = seen.get(p.pid) ?? {
        pid: p.pid,
        holdMs: hold === undefined ? NaN : Number(hold),
        semiSpaceMb: Number(/--max-semi-space-size=(\d+)/.exec(cmdline)?.[1] ?? NaN),
        mallocArenaMax: environ.find((v) => v.startsWith('MALLOC_ARENA_MAX='))?.split('=')[1],
        firstSeenAt: Date.now(),
        cpuMsHeld: 0,
        heldReadings: 0,
        cpuMsLast: 0,
      };
      if (Date.now() < entry.firstSeenAt + entry.holdMs - 300) {
        entry.cpuMsHeld = p.cpuMs;
        entry.heldReadings++;
      }
      entry.cpuMsLast = p.cpuMs;
      seen.set(p.pid, entry);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return [...seen.values()];
}

const AGENT = 'switchboard-prod-build';
const LINE = '+15550181';

let buildDir: string;
let recordsDir: string;
let silence: string;
let line: PhoneLine;
let worker: AgentWorker;

beforeAll(async () => {
  // The Dockerfile's build stage, then its runtime stage.
  await run('npm', ['run', 'build'], { cwd: process.cwd() });
  buildDir = await mkdtemp(join(tmpdir(), 'sb-prod-'));
  for (const file of ['package.json', 'package-lock.json'])
    await cp(join(process.cwd(), file), join(buildDir, file));
  await cp(join(process.cwd(), 'dist'), join(buildDir, 'dist'), { recursive: true });
  await run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], {
    cwd: buildDir,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', NODE_ENV: 'production' },
  });

  const logDir = join(process.cwd(), '.stack', 'logs');
  await mkdir(logDir, { recursive: true });
  silence = await writeSilenceUlaw(await mkdtemp(join(tmpdir(), 'sb-media-')));
  line = await provisionLine(LINE, undefined, AGENT);
  recordsDir = await mkdtemp(join(tmpdir(), 'sb-records-prod-'));
  worker = await startAgentWorker({
    mode: 'start',
    buildDir,
    httpPort: 8195,
    healthPort: 8196,
    env: { LIVEKIT_AGENT_NAME: AGENT, CALL_RECORDS_DIR: recordsDir, NODE_ENV: 'production' },
    logFile: join(logDir, 'agent-prod-build.log'),
  });
}, 300_000);

afterAll(async () => {
  await worker.stop();
  await line.release();
});

describe('the production build', () => {
  it('has no development dependency installed', async () => {
    const installed = new Set(await readdir(join(buildDir, 'node_modules')));
    // Every package the lockfile marks development-only is absent. (A devDependency that is also
    // a run-time dependency of another package, like typescript under @livekit/agents or ws under
    // the OpenAI plugin, is installed by right: the lockfile does not mark it `dev`.)
    const pkg = JSON.parse(await readFile(join(buildDir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(await readFile(join(buildDir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (d) => lock.packages[`node_modules/${d}`]?.dev === true,
    );
    expect(devOnly).toContain('tsx');
    expect(devOnly).toContain('vitest');
    for (const dev of devOnly)
      expect(existsSync(join(buildDir, 'node_modules', dev)), dev).toBe(false);
    expect(installed.has('@livekit')).toBe(true);
    // Silero's VAD model ships in the package: nothing to download at run time.
    expect(
      await readdir(join(buildDir, 'node_modules', '@livekit', 'agents-plugin-silero', 'dist')),
    ).toContain('silero_vad.onnx');
  });

  it('answers a phone call: greeting heard as non-silent RTP, record written, the caller hangs up', async () => {
    expect((await workerHealth(8196)).status).toBe('ready');
    const caller = '+15557680001';
    const meter = new RtpMeter(layout.serviceIp, 24600);
    await meter.start();
    const workerPid = worker.process.pid ?? 0;
    const before = new Set((await readProcessTree(workerPid)).map((p) => p.pid));
    const watching = new AbortController();
    const spares = watchSpareProcesses(workerPid, before, watching.signal);
    const result = await runSippCaller(
      sippCall(LINE, caller, silence, {
        sipPort: 25290,
        mediaPort: 22950,
        recordPort: 24600,
        holdMs: 10_000,
      }),
    ).finally(() => {
      watching.abort();
      return meter.close();
    });
    const audio = meter.report();

    // The next idle process, forked as the call took the current one, waited out the call's
    // set-up (AGENT_SPARE_PROCESS_HOLD_MS, 1.5 s) before loading anything, then loaded.
    const [spare, ...others] = await spares;
    expect(others).toEqual([]);
    expect(spare?.holdMs).toBe(1_500);
    // Its memory limits (src/worker/job-process-memory.ts) reached it through what it inherited.
    expect(spare?.semiSpaceMb).toBe(DEFAULT_JOB_SEMI_SPACE_MB);
    expect(spare?.mallocArenaMax).toBe(String(DEFAULT_JOB_MALLOC_ARENAS));
    expect(spare?.heldReadings, JSON.stringify(spare)).toBeGreaterThan(3);
    // Node's own start-up only: loading the framework takes seconds of CPU.
    expect(spare?.cpuMsHeld, JSON.stringify(spare)).toBeLessThan(400);
    // Then it loaded: the framework's modules and prewarm, once the hold was over. The watch ends
    // with the call, which may be before the loading does (one CI run read 980 ms in all).
    expect(spare?.cpuMsLast, JSON.stringify(spare)).toBeGreaterThan((spare?.cpuMsHeld ?? 0) + 500);

    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('local');
    const sent = parseSippTrace(result.messages).filter((m) => m.direction === 'sent');
    expect(sent.some((m) => m.startLine.startsWith('BYE sip:'))).toBe(true);
    expect(audio.payloadTypes).toContain(0);
    expect(audio.loudPackets).toBeGreaterThan(50);
    expect(audio.rms).toBeGreaterThan(300);

    await eventually('the call record', async () =>
      (await readCallRecords(recordsDir)).some(
        (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
      ),
    );
    const record = (await readCallRecords(recordsDir)).find(
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    )!;
    expect(record.caller).toMatchObject({
      channel: 'phone',
      calledNumber: LINE,
      trunkId: line.trunkId,
    });
    expect(record.outcome).toBe('caller_hung_up');
    expect(record.turns.find((t) => t.role === 'agent')?.text).toMatch(/thank you for calling/);
    await eventually('the call room to be deleted', async () =>
      (await roomClient().listRooms()).every((r) => !r.name.includes(caller)),
    );
  });
});
