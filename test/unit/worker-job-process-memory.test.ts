/**
 * The memory limits of the worker's forked processes (src/worker/job-process-memory.ts): V8's
 * flag goes into the execArgv that forked processes inherit and glibc's variable into their
 * environment, the operator's own settings win, and real forked processes under a call-like load
 * keep their new space and their malloc arenas within the limits.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import {
  DEFAULT_JOB_MALLOC_ARENAS,
  DEFAULT_JOB_SEMI_SPACE_MB,
  limitJobProcessMemory,
} from '../../src/worker/index.js';

describe('job process memory: the worker side', () => {
  it.each([
    [
      'adds the flag after the arguments there',
      ['--import', 'tsx'],
      2,
      ['--import', 'tsx', '--max-semi-space-size=2'],
    ],
    ['0 leaves V8 its default', ['--import', 'tsx'], 0, ['--import', 'tsx']],
    [
      'keeps the flag the worker was started with',
      ['--max-semi-space-size=8'],
      2,
      ['--max-semi-space-size=8'],
    ],
    ['keeps it in V8 spelling too', ['--max_semi_space_size=8'], 2, ['--max_semi_space_size=8']],
    [
      'does not take a similar flag for it',
      ['--max-semi-space-sizes'],
      2,
      ['--max-semi-space-sizes', '--max-semi-space-size=2'],
    ],
  ])('semi-space: %s', (_name, before, semiSpaceMb, after) => {
    const execArgv = [...before];
    limitJobProcessMemory({ semiSpaceMb }, execArgv, {});
    expect(execArgv).toEqual(after);
  });

  it('adds the flag once', () => {
    const execArgv: string[] = [];
    limitJobProcessMemory({ semiSpaceMb: 2 }, execArgv, {});
    limitJobProcessMemory({ semiSpaceMb: 4 }, execArgv, {});
    expect(execArgv).toEqual(['--max-semi-space-size=2']);
  });

  it.each([
    [
      { semiSpaceMb: 0, mallocArenas: 2 },
      { PATH: '/bin', MALLOC_ARENA_MAX: '2' },
    ],
    [{ semiSpaceMb: 0 }, { PATH: '/bin' }],
  ])('arenas: %j -> the environment forked processes inherit is %j', (memory, after) => {
    const env: NodeJS.ProcessEnv = { PATH: '/bin' };
    limitJobProcessMemory(memory, [], env);
    expect(env).toEqual(after);
  });
});

describe('job process memory: the configuration', () => {
  it.each([
    [{}, { semiSpaceMb: DEFAULT_JOB_SEMI_SPACE_MB, mallocArenas: DEFAULT_JOB_MALLOC_ARENAS }],
    [{ AGENT_JOB_SEMI_SPACE_MB: '0', AGENT_JOB_MALLOC_ARENAS: '0' }, { semiSpaceMb: 0 }],
    [
      { AGENT_JOB_SEMI_SPACE_MB: '16', AGENT_JOB_MALLOC_ARENAS: '4' },
      { semiSpaceMb: 16, mallocArenas: 4 },
    ],
    // The operator's MALLOC_ARENA_MAX applies to every process already; the worker leaves it.
    [{ MALLOC_ARENA_MAX: '8' }, { semiSpaceMb: DEFAULT_JOB_SEMI_SPACE_MB }],
  ])('%j -> %j', (env, memory) => {
    expect(parseConfig(env).jobMemory).toEqual(memory);
  });

  it.each([
    ['AGENT_JOB_SEMI_SPACE_MB', '-1'],
    ['AGENT_JOB_SEMI_SPACE_MB', '1.5'],
    ['AGENT_JOB_SEMI_SPACE_MB', '65'],
    ['AGENT_JOB_MALLOC_ARENAS', 'two'],
    ['MALLOC_ARENA_MAX', '0'],
  ])('rejects %s=%s, naming the variable', (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(new RegExp(name));
  });
});

describe('job process memory in forked processes', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-memory-'));
    // A call's pattern: many short-lived objects, a few kept a while. Reports the new space.
    await writeFile(
      join(dir, 'young.mjs'),
      `import v8 from 'node:v8';
let kept = [];
for (let i = 0; i < 200000; i++) {
  kept.push(new Array(64).fill(i));
  if (kept.length > 2000) kept = kept.slice(1000);
}
const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.send(ns.space_size);
`,
    );
    // Native threads allocating at once, as a call's are. Reports the glibc arenas beside the
    // main one: each is a 64 MiB anonymous reservation on a 64 MiB boundary, written from its
    // start (glibc aligns its heaps to their size).
    await writeFile(
      join(dir, 'arenas.mjs'),
      `import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
const code = "const z = require('node:zlib'); for (let i = 0; i < 20; i++) z.gzipSync(Buffer.alloc(1 << 20, i)); require('node:worker_threads').parentPort.postMessage(0);";
const threads = Array.from({ length: 6 }, () => new Worker(code, { eval: true }));
await Promise.all(threads.map((t) => new Promise((r) => t.once('message', r))));
const HEAP = 64n << 20n;
const anon = readFileSync('/proc/self/maps', 'utf8')
  .split('\\n')
  .filter((l) => /^\\S+ [-r][-w]-p 00000000 00:00 0\\s*$/.test(l))
  .map((l) => {
    const [start, end] = l.split(' ')[0].split('-').map((a) => BigInt('0x' + a));
    return { start, end, rw: l.split(' ')[1] === 'rw-p' };
  });
const ends = new Set(anon.map((m) => m.end));
const heaps = anon.filter((m) => m.rw && m.start % HEAP === 0n && ends.has(m.start + HEAP));
await Promise.all(threads.map((t) => t.terminate()));
process.send(heaps.length);
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Forks `script` as the framework forks a job process: the execArgv and environment given. */
  function forkReport(script: string, execArgv: string[], env: NodeJS.ProcessEnv): Promise<number> {
    return new Promise((resolve, reject) => {
      const proc = fork(join(dir, script), [], { execArgv, env });
      proc.once('message', (m) => resolve(m as number));
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`${script} exited (${code}) before reporting`)));
    });
  }

  function limited(): { execArgv: string[]; env: NodeJS.ProcessEnv } {
    const execArgv: string[] = [];
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    limitJobProcessMemory(
      { semiSpaceMb: DEFAULT_JOB_SEMI_SPACE_MB, mallocArenas: DEFAULT_JOB_MALLOC_ARENAS },
      execArgv,
      env,
    );
    return { execArgv, env };
  }

  it('keeps the new space within two semi-spaces of the limit, where V8 alone grows it past', async () => {
    const { execArgv, env } = limited();
    const mib = 1024 * 1024;
    expect(await forkReport('young.mjs', execArgv, env)).toBeLessThanOrEqual(
      2 * DEFAULT_JOB_SEMI_SPACE_MB * mib,
    );
    expect(await forkReport('young.mjs', [], env)).toBeGreaterThan(
      4 * DEFAULT_JOB_SEMI_SPACE_MB * mib,
    );
  });

  it('keeps the malloc arenas within the limit, where glibc alone gives each thread its own', async () => {
    const { execArgv, env } = limited();
    const unlimited = { ...env };
    delete unlimited.MALLOC_ARENA_MAX;
    // The main arena is not among them.
    expect(await forkReport('arenas.mjs', execArgv, env)).toBeLessThanOrEqual(
      DEFAULT_JOB_MALLOC_ARENAS - 1,
    );
    expect(await forkReport('arenas.mjs', execArgv, unlimited)).toBeGreaterThan(4);
  });
});
