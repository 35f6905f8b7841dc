import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { eventually, layout } from './stack-env.js';

/**
 * A receptionist worker started exactly as `npm run agent dev` starts it, with extra environment,
 * logging to `logFile`; resolves once it has registered with livekit-server (its health server
 * answers only then). `stop` ends it by pid: SIGINT, then SIGKILL after 15 s.
 */
export interface AgentWorker {
  process: ChildProcess;
  httpPort: number;
  stop: () => Promise<void>;
}

export async function startAgentWorker(opts: {
  httpPort: number;
  env: NodeJS.ProcessEnv;
  logFile: string;
  logLevel?: string;
}): Promise<AgentWorker> {
  const fd = openSync(opts.logFile, 'w');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'agents/receptionist.ts', 'dev', '--log-level', opts.logLevel ?? 'debug'],
    {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...opts.env, AGENT_HTTP_PORT: String(opts.httpPort) },
    },
  );
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await eventually(
      `the agent worker to register (log: ${opts.logFile})`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`the agent worker exited with ${child.exitCode}; see ${opts.logFile}`);
        try {
          return (await fetch(`http://${layout.serviceIp}:${opts.httpPort}/`)).ok;
        } catch {
          return false;
        }
      },
      60_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { process: child, httpPort: opts.httpPort, stop };
}

/** The worker's running jobs, from its own /worker endpoint. */
export async function activeJobs(httpPort: number): Promise<number> {
  const res = await fetch(`http://${layout.serviceIp}:${httpPort}/worker`);
  return ((await res.json()) as { active_jobs: number }).active_jobs;
}
