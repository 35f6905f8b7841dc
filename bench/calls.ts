/**
 * Call set-up benchmark: N sequential SIP calls from SIPp into the local stack.
 * Prints, per call and as p50/p95 over the warm calls:
 *   - INVITE -> 200 OK (SIPp's trace timestamps)
 *   - INVITE -> first non-silent agent audio at the caller (RTP decoded and measured)
 *   - the memory of the agent: the whole worker tree idle, and the peak RSS of the job process
 *     that handled each call
 *
 *   npm run bench -- --calls 20
 *
 * Runs inside the stack's network (npm run bench brings the stack up and down) and starts its own
 * agent worker, as `npm run agent dev` does. A benchmark, not a test: nothing here asserts a target.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { activeJobs, startAgentWorker } from '../test/support/agent-worker.js';
import { provisionLine } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { parseSippTrace, runSippCaller, writeSilenceUlaw } from '../test/support/sipp.js';
import { AGENT_HTTP_PORT, eventually, layout } from '../test/support/stack-env.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '10' },
    'idle-processes': { type: 'string', default: '1' },
  },
});
const calls = Math.min(Math.max(Number(values.calls), 2), 50); // bounded: at most 50 calls
const LINE = '+15550150';

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

/** The agents framework runs each call in a process started from ipc/job_proc_lazy_main. */
function jobProcesses(workerPid: number): number[] {
  return tree(workerPid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('job_proc_lazy_main');
    } catch {
      return false;
    }
  });
}

function tree(pid: number): number[] {
  return [pid, ...children(pid).flatMap(tree)];
}

/** SIPp writes local wall-clock times ("2026-11-22 02:29:48.247372"). */
function traceTimes(trace: string): { invite?: number; ok?: number } {
  const blocks = trace.split(/^-{10,} (\S+ \S+)$/m);
  const times: { invite?: number; ok?: number } = {};
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const at = new Date((blocks[i] ?? '').replace(' ', 'T')).getTime();
    const msg = parseSippTrace(`${'-'.repeat(20)}\n${blocks[i + 1] ?? ''}`)[0];
    if (msg?.direction === 'sent' && msg.startLine.startsWith('INVITE')) times.invite ??= at;
    if (
      msg?.direction === 'received' &&
      msg.startLine.startsWith('SIP/2.0 200') &&
      msg.text.includes('INVITE')
    )
      times.ok ??= at;
  }
  return times;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const recordsDir = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  const agent = await startAgentWorker({
    httpPort: AGENT_HTTP_PORT,
    env: { CALL_RECORDS_DIR: recordsDir, AGENT_IDLE_PROCESSES: values['idle-processes'] },
    logFile: join(recordsDir, 'agent.log'),
    logLevel: 'info',
  });
  const line = await provisionLine(LINE);
  try {
    await new Promise((r) => setTimeout(r, 3_000)); // let the idle job processes finish prewarming
    const idleTreeKb = tree(agent.process.pid ?? 0).reduce((sum, p) => sum + rssKb(p), 0);
    const silence = await writeSilenceUlaw(recordsDir);
    const rows: { answerMs: number; firstAudioMs: number; jobPeakKb: number }[] = [];
    for (let i = 0; i < calls; i++) {
      const meter = new RtpMeter(layout.serviceIp, 26000);
      await meter.start();
      let jobPeakKb = 0;
      const sampler = setInterval(() => {
        for (const p of jobProcesses(agent.process.pid ?? 0))
          jobPeakKb = Math.max(jobPeakKb, rssKb(p));
      }, 200);
      const result = await runSippCaller({
        called: line.number,
        caller: `+1555700${String(i).padStart(4, '0')}`,
        target: { host: layout.serviceIp, port: layout.ports.sip },
        localIp: layout.serviceIp,
        sipPort: 27060,
        mediaPort: 28000,
        recordPort: 26000,
        mediaFile: silence,
        answerTimeoutMs: 30_000,
        holdMs: 4_000,
      }).finally(async () => {
        clearInterval(sampler);
        await meter.close();
      });
      const t = traceTimes(result.messages);
      const firstLoud = meter.report().firstLoudAt;
      if (
        !result.answered ||
        t.invite === undefined ||
        t.ok === undefined ||
        firstLoud === undefined
      ) {
        throw new Error(
          `call ${i + 1} failed: answered=${result.answered} firstAudio=${firstLoud !== undefined}`,
        );
      }
      const row = {
        answerMs: t.ok - t.invite,
        firstAudioMs: performance.timeOrigin + firstLoud - t.invite,
        jobPeakKb,
      };
      rows.push(row);
      console.log(
        `call ${String(i + 1).padStart(2)}: INVITE->200 ${row.answerMs.toFixed(0)} ms, INVITE->first audio ${row.firstAudioMs.toFixed(0)} ms, job process peak RSS ${(row.jobPeakKb / 1024).toFixed(0)} MiB`,
      );
      await eventually('the job to end', async () => (await activeJobs(AGENT_HTTP_PORT)) === 0);
    }
    const warm = rows.slice(1);
    const fmt = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms`;
    console.log(
      `\n${calls} calls (first call cold, ${warm.length} warm), AGENT_IDLE_PROCESSES=${values['idle-processes']}`,
    );
    console.log(
      `cold  INVITE->200 ${rows[0]?.answerMs.toFixed(0)} ms, INVITE->first audio ${rows[0]?.firstAudioMs.toFixed(0)} ms`,
    );
    console.log(`warm  INVITE->200          ${fmt(warm.map((r) => r.answerMs))}`);
    console.log(`warm  INVITE->first audio  ${fmt(warm.map((r) => r.firstAudioMs))}`);
    console.log(
      `agent worker tree RSS when idle: ${(idleTreeKb / 1024).toFixed(0)} MiB; job process peak RSS per call: p50 ${(
        percentile(
          rows.map((r) => r.jobPeakKb),
          50,
        ) / 1024
      ).toFixed(0)} MiB`,
    );
  } finally {
    await line.release();
    await agent.stop();
  }
}

await main();
