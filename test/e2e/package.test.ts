/**
 * The package as a library, used the way a user uses it: `npm run build` and `npm pack` here, the
 * tarball installed into a scratch project outside this repository, the README's example agent
 * (README.md, the block marked `example: agent.ts`) compiled there with the project's own `tsc`,
 * and run with plain `node dist/agent.js dev`; then a phone call to it over SIPp.
 *
 * Offline install: the test runs inside the stack's network, which has no route to the registry,
 * so npm installs from its local cache (`--offline`), filled by the repository's `npm ci`. `npm ci`
 * caches only the lockfile's exact versions (and the abbreviated packuments it resolves them with),
 * so a plain `npm install` of ranges could ask for a version or a full packument the cache lacks.
 * The scratch project therefore starts from a copy of the repository's package-lock.json with its
 * own root: npm keeps every locked version, reads the tarball for `switchboard`, and prunes the
 * rest. A user online needs no such lockfile.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { activeJobs } from '../support/agent-worker.js';
import { waitForCallRecord } from '../support/call-records.js';
import { renderConversation, type ScriptedLine } from '../support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { parseSippTrace, runSippCaller } from '../support/sipp.js';
import { eventually, layout, roomClient } from '../support/stack-env.js';

const REPO = process.cwd();
const LINE = '+15550140';
const HTTP_PORT = 8096;
const SCRIPT: ScriptedLine[] = [
  { atSeconds: 9, text: 'book an appointment for tomorrow morning' },
  { atSeconds: 26, text: 'goodbye' },
];
const EXAMPLE_START =
  '<!-- example: agent.ts (test/e2e/package.test.ts builds and calls this exact file) -->';
const EXAMPLE_END = '<!-- /example -->';

/**
 * Plain JavaScript, so nothing type-checks it before it runs. As TypeScript, tsc rejects it:
 *   error TS2345: Argument of type '{ name: string; instructions: string; }' is not assignable
 *   to parameter of type 'CallAgentDefinition'. Property 'greeting' is missing ...
 * (the type-check test below compiles it as broken-check.ts to show that).
 */
const BROKEN_AGENT = `import { defineCallAgent, runAgentWorker } from 'switchboard';
// tsc would reject this: TS2345, "Property 'greeting' is missing in type
// '{ name: string; instructions: string; }' but required in type 'CallAgentDefinition'".
const agent = defineCallAgent({ name: 'broken', instructions: 'x' });
export default agent;
await runAgentWorker(agent, import.meta.url);
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileAsync = promisify(execFile);

/** Runs a command to its end; a non-zero exit is returned, not thrown. */
async function exec(
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      ...opts,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

/** Runs a setup step that must succeed; fails with its output otherwise. */
async function must(
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  const result = await exec(command, args, opts);
  if (result.code !== 0)
    throw new Error(
      `\`${command} ${args.join(' ')}\` in ${opts.cwd} exited with ${result.code}:\n` +
        `${result.stdout}\n${result.stderr}`,
    );
  return result;
}

/**
 * A user's shell for npm in the scratch project: none of the npm_* variables of the `npm run`
 * this test runs under (they name this repository's package and prefix), the same cache, offline.
 */
function userNpmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.toLowerCase().startsWith('npm_') || key.toLowerCase() === 'npm_config_cache')
      env[key] = value;
  return { ...env, npm_config_offline: 'true', ONNXRUNTIME_NODE_INSTALL: 'skip' };
}

/** The ```ts block between the README's example markers, as it stands in README.md. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf(EXAMPLE_START);
  const end = readme.indexOf(EXAMPLE_END, start);
  if (start < 0 || end < 0)
    throw new Error(`README.md has no block between "${EXAMPLE_START}" and "${EXAMPLE_END}"`);
  const fences = [
    ...readme.slice(start + EXAMPLE_START.length, end).matchAll(/^```ts\n([\s\S]*?)^```$/gm),
  ];
  if (fences.length !== 1)
    throw new Error(`README.md's example block holds ${fences.length} \`\`\`ts blocks, not one`);
  return fences[0]![1]!;
}

/** `file(line,col): error TSxxxx: ...` lines of tsc's output, by file. */
function tscErrors(output: string): { file: string; message: string }[] {
  return [...output.matchAll(/^(\S+?)\(\d+,\d+\): error (TS\d+: .*)$/gm)].map((m) => ({
    file: m[1]!,
    message: m[2]!,
  }));
}

const timings: Record<string, string> = {};
async function timed<T>(phase: string, body: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  try {
    return await body();
  } finally {
    timings[phase] = `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
  }
}

let packDir: string | undefined;
let scratch: string | undefined;
let tarball: { file: string; size: number; entries: string[] };
let agentSource: string;

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), 'sb-pack-'));
  const packed = await timed('build + pack', async () => {
    await must('npm', ['run', 'build'], { cwd: REPO });
    // prepack builds again: the tarball is what `npm pack` alone would make.
    const { stdout } = await must('npm', ['pack', '--json', '--pack-destination', packDir!], {
      cwd: REPO,
    });
    return (JSON.parse(stdout) as { filename: string; size: number }[])[0]!;
  });
  const file = join(packDir, packed.filename);
  const { stdout: listing } = await must('tar', ['-tzf', file], { cwd: packDir });
  tarball = { file, size: packed.size, entries: listing.split('\n').filter((l) => l !== '') };

  scratch = await mkdtemp(join(tmpdir(), 'sb-package-user-'));
  const repoPackage = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const scratchPackage = {
    type: 'module',
    private: true,
    dependencies: {
      switchboard: `file:${file}`,
      '@livekit/agents': '1.9.0',
      zod: repoPackage.dependencies.zod,
    },
    devDependencies: {
      typescript: repoPackage.devDependencies.typescript,
      '@types/node': repoPackage.devDependencies['@types/node'],
    },
  };
  await writeFile(join(scratch, 'package.json'), JSON.stringify(scratchPackage, null, 2) + '\n');
  // The repository's lockfile with the scratch project as its root (see the top of this file).
  const lock = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8')) as {
    name?: string;
    version?: string;
    packages: Record<string, unknown>;
  };
  delete lock.name;
  delete lock.version;
  lock.packages[''] = {
    dependencies: scratchPackage.dependencies,
    devDependencies: scratchPackage.devDependencies,
  };
  await writeFile(join(scratch, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
  await timed('npm install', () =>
    must('npm', ['install', '--offline', '--no-audit', '--no-fund'], {
      cwd: scratch!,
      env: userNpmEnv(),
    }),
  );

  agentSource = await readmeExample();
  await writeFile(join(scratch, 'agent.ts'), agentSource);
  await writeFile(
    join(scratch, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          outDir: 'dist',
          // @livekit/agents' own .d.ts import 'ws' and 'json-schema' without depending on their
          // @types packages; switchboard's .d.ts are checked with skipLibCheck false below.
          skipLibCheck: true,
        },
        files: ['agent.ts'],
      },
      null,
      2,
    ) + '\n',
  );
  await timed('tsc (agent.ts)', () =>
    must('npx', ['tsc', '-p', '.'], { cwd: scratch!, env: userNpmEnv() }),
  );
}, 600_000);

afterAll(async () => {
  console.info(`[package.test] timings: ${JSON.stringify(timings)}`);
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  if (packDir !== undefined) await rm(packDir, { recursive: true, force: true });
});

describe('the package as a library', () => {
  it('packs the built library with its declarations, and no sources, fakes, agents or tests', async () => {
    console.info(
      `[package.test] ${relative(packDir!, tarball.file)}: ${tarball.size} bytes, ` +
        `${tarball.entries.length} files`,
    );
    const files = tarball.entries;
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/dist/src/index.js');
    expect(files).toContain('package/dist/src/index.d.ts');
    // The built library, and the README with the docs it links to.
    expect(
      files.filter((f) => !/^package\/(package\.json|README\.md|dist\/src\/|docs\/)/.test(f)),
    ).toEqual([]);
    expect(files.filter((f) => /\.[cm]?tsx?$/.test(f) && !/\.d\.[cm]?ts$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.includes('.fake.'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('package/dist/agents/'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)tests?\/|\.(test|spec)\./.test(f))).toEqual([]);
    // Every module has its declaration, and comes from a source that exists (nothing stale).
    const modules = files.filter((f) => f.endsWith('.js'));
    expect(modules.length).toBeGreaterThan(20);
    for (const js of modules) {
      expect(files, `${js} has a declaration`).toContain(js.replace(/\.js$/, '.d.ts'));
      const source = js.replace(/^package\/dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(REPO, source)), `${js} comes from ${source}`).toBe(true);
    }
    const installed = JSON.parse(
      await readFile(join(scratch!, 'node_modules', 'switchboard', 'package.json'), 'utf8'),
    ) as { name: string };
    expect(installed.name).toBe('switchboard');
  });

  it("type-checks the README's agent under strict settings, and only the public API", async () => {
    // The README's agent imports only the package, the agents framework and zod.
    const imports = [...agentSource.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(new Set(['@livekit/agents', 'switchboard', 'zod']));
    expect(existsSync(join(scratch!, 'dist', 'agent.js'))).toBe(true);

    // switchboard's declarations under the user's strict settings, library check on: whatever
    // else tsc reports (third-party .d.ts), nothing is in switchboard's files or the agent.
    const libCheck = await timed('tsc (skipLibCheck false)', () =>
      exec('npx', ['tsc', '-p', '.', '--noEmit', '--skipLibCheck', 'false'], {
        cwd: scratch!,
        env: userNpmEnv(),
      }),
    );
    const libErrors = tscErrors(libCheck.stdout);
    if (libErrors.length > 0)
      console.info(
        `[package.test] skipLibCheck false reports (third-party):\n${libCheck.stdout.trim()}`,
      );
    expect(
      libErrors.filter(
        (e) => e.file.startsWith('node_modules/switchboard/') || e.file === 'agent.ts',
      ),
    ).toEqual([]);
    expect(libCheck.code === 0 || libErrors.length > 0).toBe(true);

    // A name that is not exported by src/index.ts, and a deep import past `exports`, do not
    // compile; neither does an agent without its greeting (broken.js, as TypeScript).
    await writeFile(
      join(scratch!, 'private-import.ts'),
      "import { TransferDesk } from 'switchboard';\n" +
        "import { loadConfig } from 'switchboard/dist/src/config/env.js';\n" +
        'console.log(TransferDesk, loadConfig);\n',
    );
    await writeFile(join(scratch!, 'broken-check.ts'), BROKEN_AGENT);
    await writeFile(
      join(scratch!, 'tsconfig.check.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { noEmit: true },
        files: ['private-import.ts', 'broken-check.ts'],
      }),
    );
    const check = await timed('tsc (private names)', () =>
      exec('npx', ['tsc', '-p', 'tsconfig.check.json'], { cwd: scratch!, env: userNpmEnv() }),
    );
    expect(check.code).not.toBe(0);
    const errors = tscErrors(check.stdout);
    expect(errors).toContainEqual({
      file: 'private-import.ts',
      message: `TS2305: Module '"switchboard"' has no exported member 'TransferDesk'.`,
    });
    expect(errors).toContainEqual({
      file: 'private-import.ts',
      message: expect.stringMatching(
        /^TS2307: Cannot find module 'switchboard\/dist\/src\/config\/env\.js'/,
      ) as string,
    });
    expect(errors.filter((e) => e.file === 'broken-check.ts')).toHaveLength(1);
    expect(check.stdout).toContain(
      "Property 'greeting' is missing in type '{ name: string; instructions: string; }'",
    );
  });

  it('an agent file without its greeting stops at start with one message, no stack trace', async () => {
    await writeFile(join(scratch!, 'broken.js'), BROKEN_AGENT);
    const result = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, ['broken.js', 'dev'], {
        cwd: scratch!,
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error [agent_definition_invalid]');
    expect(result.stderr).toContain('greeting');
    expect(`${result.stdout}\n${result.stderr}`).not.toMatch(/^ {4}at /m);
  });
});

describe("the README's agent, built in the scratch project, on a phone line", () => {
  let worker: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  let line: PhoneLine | undefined;
  let audio: { ulaw: string; wav: string };
  const logFile = join(REPO, '.stack', 'logs', 'agent-package-test.log');

  beforeAll(async () => {
    audio = await renderConversation(await mkdtemp(join(scratch!, 'audio-')), SCRIPT, 70);
    await mkdir(join(REPO, '.stack', 'logs'), { recursive: true });
    // Exactly as a user starts it, from the scratch project.
    const fd = openSync(logFile, 'w');
    const child = spawn(process.execPath, ['dist/agent.js', 'dev', '--log-level', 'debug'], {
      cwd: scratch!,
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        CALL_RECORDS_DIR: inject('recordsDir'),
        AGENT_HTTP_PORT: String(HTTP_PORT),
      },
    });
    closeSync(fd);
    worker = child;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await timed('worker start', () =>
      eventually(
        `the package-built agent worker to register (log: ${logFile})`,
        async () => {
          if (child.exitCode !== null)
            throw new Error(`the agent worker exited with ${child.exitCode}; see ${logFile}`);
          try {
            return (await fetch(`http://${layout.serviceIp}:${HTTP_PORT}/`)).ok;
          } catch {
            return false;
          }
        },
        60_000,
      ),
    );
    line = await provisionLine(LINE, undefined, 'bookings');
  }, 120_000);

  afterAll(async () => {
    await line?.release();
    if (worker !== undefined && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGINT');
      const timer = setTimeout(() => worker?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }, 30_000);

  it('answers, books by tool call, records the call, and hangs up on goodbye', async () => {
    const caller = '+15557650140';
    const call = sippCall(LINE, caller, audio.ulaw, { holdMs: 60_000 });
    const meter = new RtpMeter(layout.serviceIp, call.recordPort);
    await meter.start();
    const result = await timed('call', () => runSippCaller(call).finally(() => meter.close()));
    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('remote');
    expect(
      parseSippTrace(result.messages).some(
        (m) => m.direction === 'received' && m.startLine.startsWith('BYE '),
      ),
    ).toBe(true);
    // Greeting, booking confirmation and goodbye: several seconds of speech at the caller.
    expect(meter.report().loudPackets).toBeGreaterThan(300);

    const record = await waitForCallRecord(
      'the package-built agent phone call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.agentName).toBe('bookings');
    expect(record.turns[0]?.role).toBe('agent');
    expect(record.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(
      SCRIPT.map((l) => l.text),
    );
    expect(record.toolCalls.map((c) => [c.name, c.isError])).toEqual([
      ['book_appointment', false],
      ['end_call', false],
    ]);
    const booking = JSON.parse(record.toolCalls[0]?.output ?? '{}') as { reference?: unknown };
    expect(booking).toMatchObject({ booked: true, day: 'tomorrow', time: 'morning' });
    expect(typeof booking.reference).toBe('string');
    expect(booking.reference).not.toBe('');
    expect(record.annotations?.reference).toBe(booking.reference);
    expect(record.outcome).toBe('completed');

    await eventually('the bookings job to end', async () => (await activeJobs(HTTP_PORT)) === 0);
    expect((await roomClient().listRooms()).filter((r) => r.name === record.room)).toEqual([]);
  });
});
