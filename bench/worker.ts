/**
 * Production worker benchmark (`npm run agent start`, compiled JavaScript from dist/):
 *   - peak memory (RSS summed over the worker and all its processes) at idle, and with 1, 2, …
 *     up to --limit concurrent SIP calls (the worker runs with AGENT_MAX_CALLS = --limit);
 *   - time from SIGTERM to the worker's exit with no call, and with one call in progress that the
 *     caller ends --hold-after-sigterm-ms after the SIGTERM.
 *
 *   npm run bench:worker -- --limit 4 --runs 2
 *
 * Runs inside the stack's network (npm run bench:worker brings the stack up and down), builds
 * dist/ first, and starts its own workers under their own agent name. Bounded: --limit ≤ 8,
 * --runs ≤ 5. A benchmark, not a test: nothing here asserts a target.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readProcessTree } from '../src/worker/process-tree.js';
import { activeJobs, startAgentWorker, type AgentWorker } from '../test/support/agent-worker.js';
import { provisionLine, sippCall } from '../test/support/phone-lines.js';
import { runSippCaller, writeSilenceUlaw } from '../test/support/sipp.js';
import { eventually, roomClient } from '../test/support/stack-env.js';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '4' },
    runs: { type: 'string', default: '2' },
    'settle-ms': { type: 'string', default: '8000' },
    'hold-after-sigterm-ms': { type: 'string', default: '5000' },
  },
});
const limit = Math.min(Math.max(Number(values.limit), 1), 8);
const runs = Math.min(Math.max(Number(values.runs), 1), 5);
const settleMs = Math.min(Math.max(Number(values['settle-ms']), 2000), 30_000);
const holdAfterSigtermMs = Math.min(
  Math.max(Number(values['hold-after-sigterm-ms']), 1000),
  30_000,
);
const AGENT = 'switchboard-bench-worker';
const LINE = '+15550191';
const HTTP_PORT = 8291;
const HEALTH_PORT = 8292;
const MB = 1024 * 1024;

execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
const silence = await writeSilenceUlaw(await mkdtemp(join(tmpdir(), 'sb-media-')));
// No silence prompts during the measurement: the agent speaks its greeting, then listens.
const line = await provisionLine(LINE, { silenceTimeoutMs: 600_000 }, AGENT);

async function startWorker(tag: string): Promise<AgentWorker> {
  return startAgentWorker({
    mode: 'start',
    buildDir: process.cwd(),
    httpPort: HTTP_PORT,
    healthPort: HEALTH_PORT,
    logLevel: 'info',
    env: {
      LIVEKIT_AGENT_NAME: AGENT,
      AGENT_MAX_CALLS: String(limit),
      AGENT_MAX_CPU_PERCENT: '100',
      CALL_RECORDS_DIR: await mkdtemp(join(tmpdir(), 'sb-bench-records-')),
    },
    logFile: join(tmpdir(), `sb-bench-worker-${tag}.log`),
  });
}

/** Peak of the summed RSS of the worker tree, sampled every 200 ms for `ms`. */
async function peakTreeRssBytes(pid: number, ms: number): Promise<{ peak: number; procs: number }> {
  let peak = 0;
  let procs = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const tree = await readProcessTree(pid);
    const total = tree.reduce((sum, p) => sum + p.rssBytes, 0);
    if (total > peak) {
      peak = total;
      procs = tree.length;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { peak, procs };
}

let slot = 0;
function placeCall(caller: string, holdMs: number) {
  const n = slot++;
  return runSippCaller(
    sippCall(LINE, caller, silence, {
      sipPort: 25400 + n,
      mediaPort: 22800 + 10 * n,
      recordPort: 24800 + 2 * n,
      holdMs,
    }),
  );
}

async function hangUpAll(): Promise<void> {
  const rooms = (await roomClient().listRooms()).filter((r) => r.name.startsWith('e2e-call-'));
  await Promise.all(rooms.map((r) => roomClient().deleteRoom(r.name)));
}

try {
  // Memory: idle, then 1..limit concurrent calls.
  const memory: { calls: number; peakMb: number; procs: number }[] = [];
  const worker = await startWorker('memory');
  const pid = worker.process.pid;
  if (pid === undefined) throw new Error('the worker has no pid');
  const idle = await peakTreeRssBytes(pid, settleMs);
  memory.push({ calls: 0, peakMb: idle.peak / MB, procs: idle.procs });
  const calls: Promise<unknown>[] = [];
  for (let k = 1; k <= limit; k++) {
    calls.push(placeCall(`+1555769${String(k).padStart(4, '0')}`, 600_000));
    await eventually(
      `${k} calls on the worker`,
      async () => (await activeJobs(HTTP_PORT)) === k,
      60_000,
    );
    const m = await peakTreeRssBytes(pid, settleMs);
    memory.push({ calls: k, peakMb: m.peak / MB, procs: m.procs });
  }
  await hangUpAll();
  await Promise.allSettled(calls);
  await worker.stop();

  // SIGTERM -> exit: no call, and one call that the caller ends holdAfterSigtermMs later.
  const drains: { withCall: boolean; sigtermToExitMs: number; sigtermToCallEndMs: number }[] = [];
  for (let run = 0; run < runs; run++) {
    const idleWorker = await startWorker(`drain-idle-${run}`);
    const t0 = performance.now();
    idleWorker.process.kill('SIGTERM');
    await idleWorker.exited;
    drains.push({
      withCall: false,
      sigtermToExitMs: performance.now() - t0,
      sigtermToCallEndMs: 0,
    });

    const busyWorker = await startWorker(`drain-call-${run}`);
    let callEndedAt = 0;
    const answeredBy = Date.now();
    // The caller hangs up 5 s after the answer plus holdAfterSigtermMs; SIGTERM comes 5 s after the answer.
    const call = placeCall(
      `+155577${String(run).padStart(5, '0')}`,
      5_000 + holdAfterSigtermMs,
    ).then(() => (callEndedAt = performance.now()));
    await eventually(
      'the call on the worker',
      async () => (await activeJobs(HTTP_PORT)) === 1,
      60_000,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 5_000 - (Date.now() - answeredBy))));
    const t1 = performance.now();
    busyWorker.process.kill('SIGTERM');
    await busyWorker.exited;
    const exitAt = performance.now();
    await call;
    drains.push({
      withCall: true,
      sigtermToExitMs: exitAt - t1,
      sigtermToCallEndMs: callEndedAt - t1,
    });
  }

  console.log(
    `\nworker memory (peak RSS of the worker tree, ${settleMs} ms per step, AGENT_MAX_CALLS=${limit})`,
  );
  console.log('calls | peak MB | processes | added MB');
  memory.forEach((m, i) =>
    console.log(
      `${m.calls} | ${m.peakMb.toFixed(0)} | ${m.procs} | ${i === 0 ? '-' : (m.peakMb - (memory[i - 1]?.peakMb ?? 0)).toFixed(0)}`,
    ),
  );
  console.log('\nSIGTERM -> exit');
  for (const d of drains)
    console.log(
      d.withCall
        ? `one call: ${d.sigtermToExitMs.toFixed(0)} ms (the caller hung up ${d.sigtermToCallEndMs.toFixed(0)} ms after SIGTERM; exit ${(d.sigtermToExitMs - d.sigtermToCallEndMs).toFixed(0)} ms after the call ended)`
        : `no call: ${d.sigtermToExitMs.toFixed(0)} ms`,
    );
} finally {
  await line.release();
}
