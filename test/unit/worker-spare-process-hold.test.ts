/**
 * The hold on new idle job processes while a call is set up (src/worker/spare-process-hold.ts):
 * the worker writes the hold into the gate's URL in its execArgv, which forked processes
 * inherit; the gate in a forked job process waits what the URL says, bounded, and nothing
 * else waits. The gate itself is run in real child processes below.
 */
import { fork } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  holdSpareProcesses,
  installSpareProcessGate,
  MAX_SPARE_PROCESS_HOLD_MS,
  spareProcessHold,
  spareProcessWaitMs,
} from '../../src/worker/index.js';

const GATE = new URL('../../src/worker/spare-process-gate.ts', import.meta.url).href;
const JOB = '/app/node_modules/@livekit/agents/dist/ipc/job_proc_lazy_main.js';
const INFERENCE = '/app/node_modules/@livekit/agents/dist/ipc/inference_proc_lazy_main.js';

describe('spare process hold: the worker side', () => {
  it('installs the gate once, after the arguments already there', () => {
    const execArgv = ['--import', 'tsx'];
    installSpareProcessGate(execArgv);
    installSpareProcessGate(execArgv);
    expect(execArgv).toEqual(['--import', 'tsx', '--import', GATE]);
  });

  it('writes the hold into the gate URL', () => {
    const execArgv: string[] = [];
    installSpareProcessGate(execArgv);
    holdSpareProcesses(1_500.4, execArgv);
    expect(execArgv).toEqual(['--import', `${GATE}?holdMs=1500`]);
    holdSpareProcesses(2_000, execArgv);
    expect(execArgv).toEqual(['--import', `${GATE}?holdMs=2000`]);
  });

  it('refuses to hold without the gate: nothing would read it', () => {
    expect(() => holdSpareProcesses(1_500, [])).toThrow(/not installed/);
  });

  it('processes forked before the first accepted call do not wait; those after it do', () => {
    const execArgv: string[] = [];
    const callAccepted = spareProcessHold(1_500, execArgv);
    expect(execArgv).toEqual(['--import', GATE]);
    callAccepted();
    expect(execArgv).toEqual(['--import', `${GATE}?holdMs=1500`]);
    callAccepted();
    expect(execArgv).toEqual(['--import', `${GATE}?holdMs=1500`]);
  });

  it('with holdMs 0 installs nothing and holds nothing', () => {
    const execArgv: string[] = [];
    spareProcessHold(0, execArgv)();
    expect(execArgv).toEqual([]);
  });
});

describe('spare process hold: the gate', () => {
  it.each([
    ['a job process with a hold', JOB, '?holdMs=1500', 1_500],
    ['a job process with no hold', JOB, '', 0],
    ['a job process with a hold that is not a number', JOB, '?holdMs=soon', 0],
    ['a job process with a negative hold', JOB, '?holdMs=-5', 0],
    ['a job process with a hold too long', JOB, '?holdMs=99999999', MAX_SPARE_PROCESS_HOLD_MS],
    ['the inference process', INFERENCE, '?holdMs=1500', 0],
    ['a job process under tsx', JOB.replace(/\.js$/, '.ts'), '?holdMs=1500', 1_500],
  ])('%s waits as the URL says', (_case, entry, query, expected) => {
    expect(spareProcessWaitMs(['node', entry], `${GATE}${query}`)).toBe(expected);
  });

  it('holds a forked job process back before its entry module runs, and not another process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-gate-'));
    // Each reports how long after its start its entry module ran.
    const report = 'process.send(Math.round(performance.now()), () => process.exit(0));\n';
    await writeFile(join(dir, 'job_proc_lazy_main.js'), report);
    await writeFile(join(dir, 'other.js'), report);
    const entryAfterMs = async (file: string) => {
      const child = fork(join(dir, file), [], {
        execArgv: ['--import', 'tsx', '--import', `${GATE}?holdMs=3000`],
      });
      return new Promise<number>((resolve, reject) => {
        child.once('message', (ms) => resolve(ms as number));
        child.once('error', reject);
      });
    };
    const [job, other] = await Promise.all([
      entryAfterMs('job_proc_lazy_main.js'),
      entryAfterMs('other.js'),
    ]);
    expect(job).toBeGreaterThanOrEqual(3_000);
    expect(other).toBeLessThan(3_000);
  });
});
