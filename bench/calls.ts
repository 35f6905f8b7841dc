/**
 * Call set-up benchmark. In one run, on the same stack and models, this package's receptionist
 * and the stock agents-js baseline (agents/baseline.ts), both as production workers (compiled,
 * `start`), each take N sequential SIP calls and M browser calls:
 *   - phone: INVITE -> 200 OK (SIPp's trace) and INVITE -> first non-silent agent audio at the
 *     caller (RTP decoded and measured);
 *   - browser: the call button -> first agent audio heard by the page (WebAudio in Chromium);
 *   - memory: the worker tree idle, and the peak RSS of the job process of each call.
 *
 *   npm run bench -- --calls 20 --browser-calls 10
 *
 * Runs inside the stack's network (npm run bench brings the stack up and down). Bounded: at most
 * 50 calls of each kind per agent. A benchmark, not a test: nothing here asserts a target.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { activeJobs, startAgentWorker, type AgentWorker } from '../test/support/agent-worker.js';
import { launchChromium, writeSilenceWav } from '../test/support/chromium.js';
import { provisionLine } from '../test/support/phone-lines.js';
import { RtpMeter } from '../test/support/rtp-meter.js';
import { parseSippTrace, runSippCaller, writeSilenceUlaw } from '../test/support/sipp.js';
import { eventually, layout } from '../test/support/stack-env.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '10' },
    'browser-calls': { type: 'string', default: '5' },
  },
});
const CALLS = Math.min(Math.max(Number(values.calls), 2), 50);
const BROWSER_CALLS = Math.min(Math.max(Number(values['browser-calls']), 0), 50);
/** The benchmark's own page, offering both agents (the stack's page offers WEB_AGENTS). */
const WEB_PORT = 8180;

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

function tree(pid: number): number[] {
  return [pid, ...children(pid).flatMap(tree)];
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

/** Busy share of the machine's CPU over `ms` (from /proc/stat), 0..1. */
async function machineCpuBusy(ms: number): Promise<number> {
  const sample = () => {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = sample();
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Waits (at most 30 s) for the machine to be quiet before an agent's calls: the stock worker
 * reports its machine's CPU as its load and is offered no call above 70 % (agents-js's production
 * threshold), which the previous agent's last call, still winding down, could cause.
 */
async function quietMachine(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await machineCpuBusy(2_000)) > 0.4 && Date.now() < deadline);
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
const fmt = (xs: number[]) =>
  `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms`;

interface Agent {
  label: string;
  agentName: string;
  file: string;
  line: string;
  httpPort: number;
  healthPort?: number;
  worker?: AgentWorker;
}

interface Figures {
  answerMs: number[];
  firstAudioMs: number[];
  browserFirstAudioMs: number[];
  jobPeakKb: number[];
  idleTreeKb: number;
}

async function phoneCalls(agent: Agent, silence: string, figures: Figures): Promise<void> {
  const pid = agent.worker?.process.pid ?? 0;
  for (let i = 0; i < CALLS; i++) {
    const meter = new RtpMeter(layout.serviceIp, 26000);
    await meter.start();
    let jobPeakKb = 0;
    const sampler = setInterval(() => {
      for (const p of jobProcesses(pid)) jobPeakKb = Math.max(jobPeakKb, rssKb(p));
    }, 200);
    const result = await runSippCaller({
      called: agent.line,
      caller: `+1555700${String(i).padStart(4, '0')}`,
      target: { host: layout.serviceIp, port: layout.ports.sip },
      localIp: layout.serviceIp,
      sipPort: 27060,
      mediaPort: 28000,
      recordPort: 26000,
      mediaFile: silence,
      answerTimeoutMs: 30_000,
      holdMs: 5_000,
    }).finally(async () => {
      clearInterval(sampler);
      await meter.close();
    });
    const t = traceTimes(result.messages);
    const firstLoud = meter.report().firstLoudAt;
    if (!result.answered || t.invite === undefined || t.ok === undefined || firstLoud === undefined)
      throw new Error(`${agent.label}: call ${i + 1} failed (answered: ${result.answered})`);
    // The first call is cold; the figures are over the warm ones.
    if (i > 0) {
      figures.answerMs.push(t.ok - t.invite);
      figures.firstAudioMs.push(performance.timeOrigin + firstLoud - t.invite);
      figures.jobPeakKb.push(jobPeakKb);
    }
    await eventually('the job to end', async () => (await activeJobs(agent.httpPort)) === 0);
  }
}

async function browserCalls(agent: Agent, figures: Figures): Promise<void> {
  if (BROWSER_CALLS === 0) return;
  const browser = await launchChromium(
    await writeSilenceWav(await mkdtemp(join(tmpdir(), 'sb-web-'))),
  );
  try {
    for (let i = 0; i < BROWSER_CALLS; i++) {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${WEB_PORT}/?agent=${agent.agentName}`);
      // Chromium's start and the previous call's end load the machine, and the stock worker
      // declines jobs while the machine's CPU is above its load threshold (0.7).
      await quietMachine();
      await page.click('#call');
      try {
        await page.waitForFunction(() => window.switchboard.loudAtMs.agent.length > 0, undefined, {
          timeout: 30_000,
        });
      } catch (err) {
        const state = await page.evaluate(() => window.switchboard);
        throw new Error(
          `${agent.label}: browser call ${i + 1} heard no agent audio (phase ${state.phase}${state.error === undefined ? '' : `, error ${state.error}`})`,
          { cause: err },
        );
      }
      const first = await page.evaluate(() => window.switchboard.loudAtMs.agent[0] ?? NaN);
      figures.browserFirstAudioMs.push(first);
      await page.click('#hangup');
      await page.close();
      await eventually('the job to end', async () => (await activeJobs(agent.httpPort)) === 0);
    }
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  await run('npm', ['run', 'build']);
  const dir = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  const agents: Agent[] = [
    {
      label: 'switchboard receptionist',
      agentName: 'switchboard',
      file: 'receptionist',
      line: '+15550150',
      httpPort: 8097,
      healthPort: 8098,
    },
    {
      label: 'stock agents-js baseline',
      agentName: 'baseline',
      file: 'baseline',
      line: '+15550151',
      httpPort: 8099,
    },
  ];
  const web = spawn(
    process.execPath,
    ['--import', 'tsx', 'web/server.ts', '--host', '127.0.0.1', '--port', String(WEB_PORT)],
    {
      env: {
        ...process.env,
        WEB_AGENTS: agents.map((a) => a.agentName).join(','),
        // One address asks for every browser call of the run: above the demo's rate limits.
        WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: '1000',
        WEB_TOKEN_RATE_PER_USER_PER_MINUTE: '1000',
        WEB_MAX_CALLS_PER_USER: '50',
      },
      stdio: 'ignore',
    },
  );
  const lines = await Promise.all(agents.map((a) => provisionLine(a.line, undefined, a.agentName)));
  const results = new Map<Agent, Figures>();
  try {
    for (const agent of agents) {
      agent.worker = await startAgentWorker({
        mode: 'start',
        buildDir: process.cwd(),
        agent: agent.file,
        httpPort: agent.httpPort,
        ...(agent.healthPort === undefined ? {} : { healthPort: agent.healthPort }),
        env: { CALL_RECORDS_DIR: dir },
        logFile: join(dir, `${agent.file}.log`),
        logLevel: 'info',
      });
    }
    await eventually('the bench page', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${WEB_PORT}/health`)).ok;
      } catch {
        return false;
      }
    });
    await new Promise((r) => setTimeout(r, 3_000)); // idle job processes finish prewarming
    const silence = await writeSilenceUlaw(dir);
    for (const agent of agents) {
      const figures: Figures = {
        answerMs: [],
        firstAudioMs: [],
        browserFirstAudioMs: [],
        jobPeakKb: [],
        idleTreeKb: tree(agent.worker?.process.pid ?? 0).reduce((sum, p) => sum + rssKb(p), 0),
      };
      await quietMachine();
      await phoneCalls(agent, silence, figures);
      await browserCalls(agent, figures);
      results.set(agent, figures);
    }
    console.log(
      `call set-up, ${CALLS} phone calls (first cold, not counted) and ${BROWSER_CALLS} browser calls per agent, production workers`,
    );
    for (const agent of agents) {
      const f = results.get(agent);
      if (f === undefined) continue;
      console.log(`\n${agent.label} (line ${agent.line}):`);
      console.log(`  INVITE -> 200 OK                    ${fmt(f.answerMs)}`);
      console.log(`  INVITE -> first agent audio (RTP)   ${fmt(f.firstAudioMs)}`);
      console.log(`  browser call -> first agent audio   ${fmt(f.browserFirstAudioMs)}`);
      console.log(
        `  worker tree RSS idle ${(f.idleTreeKb / 1024).toFixed(0)} MiB; job process peak RSS per call p50 ${(percentile(f.jobPeakKb, 50) / 1024).toFixed(0)} MiB`,
      );
    }
    const [ours, base] = agents.map((a) => results.get(a));
    if (ours !== undefined && base !== undefined)
      console.log(
        `\nratio (baseline / switchboard), INVITE -> first audio p95: ${(percentile(base.firstAudioMs, 95) / percentile(ours.firstAudioMs, 95)).toFixed(2)}`,
      );
  } finally {
    for (const line of lines) await line.release();
    for (const agent of agents) await agent.worker?.stop();
    web.kill('SIGTERM');
  }
}

await main();
