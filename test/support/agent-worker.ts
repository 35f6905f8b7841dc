import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, layout } from './stack-env.js';

/**
 * An agent worker (the receptionist unless told) started exactly as `npm run agent dev` (default) or `npm run agent start`
 * starts it, with extra environment, logging to `logFile`; resolves once it has registered with
 * livekit-server (in dev, the framework's health server answers only then; in start, GET /health
 * says "ready"). `stop` ends it by pid: SIGINT, then SIGKILL after 15 s.
 */
export interface AgentWorker {
  process: ChildProcess;
  httpPort: number;
  /** The production worker's own health port (start mode). */
  healthPort?: number;
  /** Resolves when the worker process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: () => Promise<void>;
}

export interface AgentWorkerOptions {
  httpPort: number;
  env: NodeJS.ProcessEnv;
  logFile: string;
  logLevel?: string;
  /** `dev` (tsx, the agents CLI) or `start` (the production worker). Default dev. */
  mode?: 'dev' | 'start';
  /** Start mode, this package's production worker: GET /health port (readiness). */
  healthPort?: number;
  /** The file of agents/ to run, by name. Default: receptionist. */
  agent?: string;
  /**
   * Start mode: run the compiled worker from this directory (a production build: dist/, package
   * files and production node_modules), with plain Node, as the Docker image does. Without it, the
   * TypeScript sources run through tsx.
   */
  buildDir?: string;
}

export function agentWorkerCommand(opts: AgentWorkerOptions): { args: string[]; cwd: string } {
  const mode = opts.mode ?? 'dev';
  const level = opts.logLevel ?? 'debug';
  const agent = opts.agent ?? 'receptionist';
  if (opts.buildDir !== undefined)
    return {
      args: [join('dist', 'agents', `${agent}.js`), mode, '--log-level', level],
      cwd: opts.buildDir,
    };
  return {
    args: ['--import', 'tsx', `agents/${agent}.ts`, mode, '--log-level', level],
    cwd: process.cwd(),
  };
}

export async function startAgentWorker(opts: AgentWorkerOptions): Promise<AgentWorker> {
  const mode = opts.mode ?? 'dev';
  const { args, cwd } = agentWorkerCommand(opts);
  const fd = openSync(opts.logFile, 'w');
  const child = spawn(process.execPath, args, {
    cwd,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      ...opts.env,
      AGENT_HTTP_PORT: String(opts.httpPort),
      ...(opts.healthPort === undefined ? {} : { AGENT_HEALTH_PORT: String(opts.healthPort) }),
    },
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  // This package's production worker says "ready" on /health; the framework's own server (dev,
  // or a stock agent's start) answers on / once registered.
  const readyUrl =
    mode === 'start' && opts.healthPort !== undefined
      ? `http://${layout.serviceIp}:${opts.healthPort}/health`
      : `http://${layout.serviceIp}:${opts.httpPort}/`;
  try {
    await eventually(
      `the agent worker to register (log: ${opts.logFile})`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`the agent worker exited with ${child.exitCode}; see ${opts.logFile}`);
        try {
          return (await fetch(readyUrl)).ok;
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
  return {
    process: child,
    httpPort: opts.httpPort,
    ...(opts.healthPort === undefined ? {} : { healthPort: opts.healthPort }),
    exited,
    stop,
  };
}

/** The worker's running jobs, from its own /worker endpoint. */
export async function activeJobs(httpPort: number): Promise<number> {
  const res = await fetch(`http://${layout.serviceIp}:${httpPort}/worker`);
  return ((await res.json()) as { active_jobs: number }).active_jobs;
}

/** The production worker's GET /health: HTTP status and its JSON body. */
export async function workerHealth(
  healthPort: number,
): Promise<{ httpStatus: number; status: string; activeCalls: number; maxCalls: number }> {
  const res = await fetch(`http://${layout.serviceIp}:${healthPort}/health`);
  const body = (await res.json()) as { status: string; activeCalls: number; maxCalls: number };
  return { httpStatus: res.status, ...body };
}
