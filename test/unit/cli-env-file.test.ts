/**
 * `npm run sip` and `npm run call` read .env.local as the worker does (src/config/env.ts
 * loadConfig): a LiveKit Cloud URL kept there must not be ignored in favour of the local stack.
 * Shown with a URL the config refuses, so the processes stop before they connect anywhere.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Resolved from the project: the test runs the CLI in a directory of its own.
const TSX = join(ROOT, 'node_modules/tsx/dist/loader.mjs');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-env-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, script), ...args], {
    cwd: dir,
    // Only what a shell gives any process: none of the developer's LiveKit settings.
    env: { PATH: process.env.PATH ?? '', HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stderr })));
}

it.each([
  ['npm run sip', 'sip-dispatch/main.ts', ['plan']],
  ['npm run call', 'bin/call.ts', ['+15550100', '--trunk', 'main']],
])('%s reads LIVEKIT_URL from .env.local', async (_name, script, args) => {
  await writeFile(join(dir, '.env.local'), 'LIVEKIT_URL=ftp://livekit.example.invalid\n');
  const { code, stderr } = await run(script, args);
  expect(code).toBe(1);
  expect(stderr).toContain('Invalid configuration in the environment');
  expect(stderr).toContain('LIVEKIT_URL');
  expect(stderr).not.toMatch(/^\s+at /m); // one clear message, no stack trace
});
