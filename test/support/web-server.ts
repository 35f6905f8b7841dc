import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { eventually, layout } from './stack-env.js';

export interface WebServer {
  url: string;
  log: () => Promise<string>;
  stop: () => Promise<void>;
}

/** web/server.ts of this checkout, as the stack runs it, with its own port and environment. */
export async function startWebServer(port: number, env: NodeJS.ProcessEnv, logFile: string) {
  const fd = openSync(logFile, 'w');
  const child: ChildProcess = spawn(
    process.execPath,
    // 127.0.0.1 too: the page may use the microphone only in a secure context (localhost).
    [
      '--import',
      'tsx',
      'web/server.ts',
      '--host',
      layout.serviceIp,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } },
  );
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://${layout.serviceIp}:${port}`;
  await eventually(`the web server on ${port} (log: ${logFile})`, async () => {
    if (child.exitCode !== null) throw new Error(`web server exited; see ${logFile}`);
    return fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
  });
  return {
    url,
    log: () => readFile(logFile, 'utf8'),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  } satisfies WebServer;
}
