import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../../src/errors/index.js';
import { parseEnviron, type ProcessRecord } from '../../stack/processes.js';
import { redisArgv } from '../../stack/services.js';
import {
  DEFAULT_RESTART_OPTIONS,
  findServiceRecord,
  parseRestartArgs,
  withServiceRecord,
} from '../../stack/stack.js';
import type { StackState } from '../../stack/state.js';

const record = (name: string, pid: number): ProcessRecord => ({
  name,
  pid,
  startTicks: String(pid * 10),
  argv: ['ip', 'netns', 'exec', 'switchboard', name],
  log: `/tmp/${name}.log`,
});

const state: StackState = {
  mode: 'netns',
  nodes: 1,
  createdNamespace: 'switchboard',
  services: [record('redis', 100), record('livekit-server', 200), record('livekit-sip', 300)],
};

describe('npm run stack -- restart arguments', () => {
  it.each([
    ['a service alone', ['redis'], { name: 'redis', options: DEFAULT_RESTART_OPTIONS }],
    ['a crash', ['redis', '--kill'], { name: 'redis', options: { kill: true, downForMs: 0 } }],
    [
      'a crash, down 2 s',
      ['--kill', 'livekit-sip', '--down-ms', '2000'],
      { name: 'livekit-sip', options: { kill: true, downForMs: 2000 } },
    ],
    [
      '--down-ms=N',
      ['redis', '--down-ms=500'],
      { name: 'redis', options: { kill: false, downForMs: 500 } },
    ],
  ])('%s', (_case, args, expected) => {
    expect(parseRestartArgs(args)).toEqual({ ok: true, ...expected });
  });

  it.each([
    ['no service', [], /which service/],
    ['two services', ['redis', 'web'], /one service at a time/],
    ['--down-ms without a value', ['redis', '--down-ms'], /whole number/],
    ['a negative --down-ms', ['redis', '--down-ms', '-5'], /whole number/],
    ['a fractional --down-ms', ['redis', '--down-ms=1.5'], /whole number/],
    ['an unknown option', ['redis', '--force'], /unknown option --force/],
  ])('refuses %s', (_case, args, message) => {
    const parsed = parseRestartArgs(args);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});

describe('finding a service of the running stack', () => {
  it('returns its record', () => {
    expect(findServiceRecord(state, 'livekit-server').pid).toBe(200);
  });

  it('names the known services when the name is unknown', () => {
    let thrown: unknown;
    try {
      findServiceRecord(state, 'redis-server');
    } catch (err) {
      thrown = err;
    }
    expect(isSwitchboardError(thrown) && thrown.code).toBe('stack_not_running');
    expect((thrown as Error).message).toContain('redis, livekit-server, livekit-sip');
  });
});

describe('recording a restarted service', () => {
  it('replaces only the record of that name, keeping start order', () => {
    const next = withServiceRecord(state, record('livekit-server', 999));
    expect(next.services.map((s) => [s.name, s.pid])).toEqual([
      ['redis', 100],
      ['livekit-server', 999],
      ['livekit-sip', 300],
    ]);
    expect(next.createdNamespace).toBe('switchboard');
    expect(state.services[1]?.pid).toBe(200);
  });
});

describe('a start environment read from /proc/<pid>/environ', () => {
  it('splits on NUL and keeps "=" inside values', () => {
    expect(parseEnviron('A=1\0NODE_OPTIONS=--x=y\0EMPTY=\0')).toEqual({
      A: '1',
      NODE_OPTIONS: '--x=y',
      EMPTY: '',
    });
  });
});

describe('redis', () => {
  it('keeps an fsynced append-only file in the given directory, and no RDB snapshots', () => {
    expect(redisArgv(6390, '/c/.stack/redis')).toEqual([
      'redis-server',
      '--port',
      '6390',
      '--bind',
      '127.0.0.1',
      '--dir',
      '/c/.stack/redis',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
    ]);
  });
});
