import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';
import { healthResponse, parseStartArgs } from '../../src/worker/index.js';

function problems(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (err) {
    if (isSwitchboardError(err) && err.code === 'config_invalid') return err.message;
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('the production worker configuration', () => {
  it('has defaults for capacity, drain and health', () => {
    expect(parseConfig({}).worker).toEqual({
      maxCpuPercent: 80,
      healthPort: 8082,
      drainTimeoutMs: 600_000,
      busyGraceMs: 3_000,
      logLevel: 'info',
    });
  });

  it('passes LiveKit Cloud worker token through, never in the message of an error', () => {
    expect(parseConfig({ LIVEKIT_WORKER_TOKEN: 'tok-123' }).worker.workerToken).toBe('tok-123');
    expect(problems({ LIVEKIT_WORKER_TOKEN: 'tok-123', AGENT_MAX_CALLS: 'x' })).not.toContain(
      'tok-123',
    );
  });

  it.each([
    ['AGENT_MAX_CALLS', '0'],
    ['AGENT_MAX_CPU_PERCENT', '150'],
    ['AGENT_HEALTH_PORT', '70000'],
    ['AGENT_DRAIN_TIMEOUT_MS', 'soon'],
    ['AGENT_BUSY_GRACE_MS', '-1'],
    ['LOG_LEVEL', 'loud'],
  ])('rejects %s=%s', (name, value) => {
    expect(problems({ [name]: value })).toContain(`${name}:`);
  });

  it('lists every missing and malformed variable in one message, the cross-variable rules too', () => {
    const message = problems({
      LIVEKIT_URL: 'wss://project.livekit.cloud',
      AGENT_MAX_CALLS: 'many',
      AGENT_DRAIN_TIMEOUT_MS: 'soon',
      OPENAI_BASE_URL: 'http://localhost:11434/v1',
    });
    for (const name of [
      'AGENT_MAX_CALLS:',
      'AGENT_DRAIN_TIMEOUT_MS:',
      'LIVEKIT_API_KEY: required when LIVEKIT_URL is set',
      'LIVEKIT_API_SECRET: required when LIVEKIT_URL is set',
      'OPENAI_API_KEY: required with OPENAI_BASE_URL',
    ])
      expect(message).toContain(name);
  });
});

describe('start arguments', () => {
  it.each([
    [[], 'info', 'info'],
    [['--log-level', 'debug'], 'info', 'debug'],
    [['--log-level=warn'], 'info', 'warn'],
  ] as const)('%j with default %s gives %s', (args, def, level) => {
    expect(parseStartArgs(args, def)).toEqual({ logLevel: level });
  });

  it.each([[['--port', '1']], [['--log-level', 'loud']], [['extra']]])('rejects %j', (args) => {
    expect(() => parseStartArgs(args, 'info')).toThrow(/start|log-level/);
  });
});

describe('health response', () => {
  it.each([
    ['starting', 503],
    ['ready', 200],
    ['disconnected', 503],
    ['draining', 503],
  ] as const)('%s answers %i', (phase, status) => {
    const r = healthResponse({
      phase,
      activeCalls: 1,
      maxCalls: 4,
      limitedBy: 'memory',
      usage: 0.254,
    });
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body)).toEqual({
      status: phase,
      activeCalls: 1,
      maxCalls: 4,
      limitedBy: 'memory',
      usage: 0.25,
    });
  });
});
