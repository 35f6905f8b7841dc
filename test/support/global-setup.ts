import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { AGENT_HTTP_PORT, eventually, layout } from './stack-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    recordsDir: string;
  }
}

/**
 * Starts the receptionist worker exactly as `npm run agent dev` does, with call records in a
 * fresh folder, and waits until it has registered with livekit-server. Requires the stack
 * (`npm test` brings it up and runs the tests inside its network).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const recordsDir = await mkdtemp(join(tmpdir(), 'sb-records-'));
  project.provide('recordsDir', recordsDir);
  const logDir = join(process.cwd(), '.stack', 'logs');
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, 'agent-test.log');
  const fd = openSync(logFile, 'w');
  const agent: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'agents/receptionist.ts', 'dev', '--log-level', 'debug'],
    {
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        CALL_RECORDS_DIR: recordsDir,
        AGENT_HTTP_PORT: String(AGENT_HTTP_PORT),
      },
    },
  );
  closeSync(fd);
  const exited = new Promise<number>((resolve) =>
    agent.once('exit', (code) => resolve(code ?? -1)),
  );
  try {
    await eventually(
      `the agent worker to register (log: ${logFile})`,
      async () => {
        if (agent.exitCode !== null)
          throw new Error(`the agent worker exited with ${agent.exitCode}; see ${logFile}`);
        try {
          return (await fetch(`http://${layout.serviceIp}:${AGENT_HTTP_PORT}/`)).ok;
        } catch {
          return false;
        }
      },
      60_000,
    );
  } catch (err) {
    agent.kill('SIGKILL');
    throw err;
  }
  return async () => {
    agent.kill('SIGINT');
    const timer = setTimeout(() => agent.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
}
