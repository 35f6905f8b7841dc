import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startAgentWorker } from './agent-worker.js';
import { AGENT_HTTP_PORT } from './stack-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    recordsDir: string;
  }
}

/**
 * Starts the receptionist worker as `npm run agent dev` does, with call records in a fresh folder.
 * Requires the stack (`npm test` brings it up and runs the tests inside its network).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const recordsDir = await mkdtemp(join(tmpdir(), 'sb-records-'));
  project.provide('recordsDir', recordsDir);
  const logDir = join(process.cwd(), '.stack', 'logs');
  await mkdir(logDir, { recursive: true });
  const worker = await startAgentWorker({
    httpPort: AGENT_HTTP_PORT,
    env: { CALL_RECORDS_DIR: recordsDir },
    logFile: join(logDir, 'agent-test.log'),
  });
  return worker.stop;
}
