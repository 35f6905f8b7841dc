import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, loadConfig, LOCAL_API_KEY, parseConfig } from '../../src/config/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';

function configError(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (err) {
    if (isSwitchboardError(err)) {
      expect(err.code).toBe('config_invalid');
      return err.message;
    }
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('parseConfig', () => {
  it('defaults to the local stack and the offline speech server', () => {
    const c = parseConfig({});
    expect(c.livekit).toMatchObject({
      url: 'ws://10.77.0.2:7880',
      apiKey: LOCAL_API_KEY,
      isLocalStack: true,
    });
    expect(c.models).toEqual({ kind: 'offline', baseUrl: 'http://10.77.0.2:8090/v1' });
    // The agent file names itself; LIVEKIT_AGENT_NAME only overrides it.
    expect(c.agentName).toBeUndefined();
    expect(c.webAgents).toEqual(['switchboard', 'appointments']);
    expect(c.records).toEqual({ dir: '.stack/records', retentionDays: 90 });
    expect(c.idleProcesses).toBe(1);
  });

  it('takes the agent name override, the page agents and a signed records webhook', () => {
    const c = parseConfig({
      LIVEKIT_AGENT_NAME: 'front-desk',
      WEB_AGENTS: 'front-desk, appointments',
      CALL_RECORDS_DIR: '/var/records',
      CALL_RECORDS_WEBHOOK_URL: 'https://records.example.com/in',
      CALL_RECORDS_WEBHOOK_SECRET: 'x'.repeat(32),
    });
    expect(c.agentName).toBe('front-desk');
    expect(c.webAgents).toEqual(['front-desk', 'appointments']);
    expect(c.records).toEqual({
      dir: '/var/records',
      retentionDays: 90,
      webhook: {
        url: 'https://records.example.com/in',
        secret: 'x'.repeat(32),
        spoolDir: '/var/records/spool',
      },
    });
  });

  it.each([
    [{ WEB_AGENTS: ' , ' }, /WEB_AGENTS: name at least one agent/],
    [{ WEB_AGENTS: 'front desk' }, /WEB_AGENTS.*letters, digits/],
    [{ LIVEKIT_AGENT_NAME: 'a b' }, /LIVEKIT_AGENT_NAME: letters, digits/],
    [
      {
        CALL_RECORDS_WEBHOOK_URL: 'https://r.example.com/in',
        CALL_RECORDS_WEBHOOK_SECRET: 'short',
      },
      /CALL_RECORDS_WEBHOOK_SECRET: required with CALL_RECORDS_WEBHOOK_URL, at least 32/,
    ],
    [
      { CALL_RECORDS_WEBHOOK_URL: 'ftp://r.example.com' },
      /CALL_RECORDS_WEBHOOK_URL: must be a URL/,
    ],
  ])('rejects %o', (env, message) => {
    expect(() => parseConfig(env)).toThrow(message);
  });

  it.each([
    ['1', 1],
    ['30', 30],
    [' 365 ', 365],
    ['3650', 3_650],
  ])('CALL_RECORDS_RETENTION_DAYS=%j keeps records %d days', (value, days) =>
    expect(parseConfig({ CALL_RECORDS_RETENTION_DAYS: value }).records.retentionDays).toBe(days),
  );

  it.each([['0'], ['-1'], ['1.5'], ['3651'], ['forever']])(
    'rejects CALL_RECORDS_RETENTION_DAYS=%j',
    (value) =>
      expect(configError({ CALL_RECORDS_RETENTION_DAYS: value })).toMatch(
        /CALL_RECORDS_RETENTION_DAYS: /,
      ),
  );

  it('the browser entrance: limited by default, open only without WEB_AUTH_MODULE', () => {
    // 4 cores fit 14 calls at the measured cost (src/worker/capacity.ts).
    const c = parseConfig({}, { cores: 4, memoryMiB: 16_384 });
    expect(c.web).toEqual({
      tokenTtlSeconds: 30,
      tokenRatePerAddressPerMinute: 10,
      tokenRatePerUserPerMinute: 5,
      maxCallsPerUser: 2,
      maxCallDurationMs: 600_000,
    });
    expect(c.phoneReservedCalls).toBe(3); // a fifth of 14 seats, rounded up
    const set = parseConfig({
      WEB_AUTH_MODULE: './auth.js',
      WEB_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173',
      WEB_TOKEN_TTL_SECONDS: '60',
      WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: '30',
      WEB_TOKEN_RATE_PER_USER_PER_MINUTE: '3',
      WEB_MAX_CALLS_PER_USER: '1',
      WEB_MAX_CALL_DURATION_MS: '0',
      AGENT_MAX_CALLS: '4',
      AGENT_PHONE_RESERVED_CALLS: '4',
    });
    expect(set.web).toEqual({
      authModule: './auth.js',
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
      tokenTtlSeconds: 60,
      tokenRatePerAddressPerMinute: 30,
      tokenRatePerUserPerMinute: 3,
      maxCallsPerUser: 1,
    });
    expect(set.phoneReservedCalls).toBe(4);
  });

  it('callbacks from the page: off without a trunk, limited by default', () => {
    expect(parseConfig({}).webCallback).toEqual({
      agent: 'switchboard',
      ratePerAddressPerHour: 10,
      ratePerUserPerHour: 3,
      perNumberPerDay: 3,
      campaignsDir: '.stack/campaigns',
    });
    expect(parseConfig({ WEB_AGENTS: 'front-desk' }).webCallback.agent).toBe('front-desk');
    expect(
      parseConfig({
        WEB_CALLBACK_TRUNK: ' carrier ',
        WEB_CALLBACK_AGENT: 'appointments',
        WEB_CALLBACK_RATE_PER_ADDRESS_PER_HOUR: '20',
        WEB_CALLBACK_RATE_PER_USER_PER_HOUR: '2',
        WEB_CALLBACK_PER_NUMBER_PER_DAY: '1',
        WEB_CALLBACK_DNC_FILE: '/etc/switchboard/dnc.txt',
        WEB_CALLBACK_CAMPAIGNS_DIR: '/var/lib/switchboard/campaigns',
      }).webCallback,
    ).toEqual({
      trunk: 'carrier',
      agent: 'appointments',
      ratePerAddressPerHour: 20,
      ratePerUserPerHour: 2,
      perNumberPerDay: 1,
      doNotCallFile: '/etc/switchboard/dnc.txt',
      campaignsDir: '/var/lib/switchboard/campaigns',
    });
  });

  it.each([
    [{ WEB_CALLBACK_TRUNK: 'my trunk' }, /WEB_CALLBACK_TRUNK: a trunk name/],
    [{ WEB_CALLBACK_AGENT: 'a b' }, /WEB_CALLBACK_AGENT: letters, digits/],
    [{ WEB_CALLBACK_PER_NUMBER_PER_DAY: '0' }, /WEB_CALLBACK_PER_NUMBER_PER_DAY/],
    [{ WEB_CALLBACK_RATE_PER_ADDRESS_PER_HOUR: 'many' }, /WEB_CALLBACK_RATE_PER_ADDRESS_PER_HOUR/],
    [{ WEB_CALLBACK_RATE_PER_USER_PER_HOUR: '1.5' }, /WEB_CALLBACK_RATE_PER_USER_PER_HOUR/],
  ])('rejects callback setting %o', (env, message) => {
    expect(configError(env)).toMatch(message);
  });

  it.each([
    ['1 seat: browsers keep it', '1', 0],
    ['2 seats: one for phones', '2', 1],
    ['10 seats: a fifth for phones', '10', 2],
    ['11 seats: a fifth, rounded up', '11', 3],
  ])('phone seats by default with %s', (_name, maxCalls, reserved) => {
    expect(parseConfig({ AGENT_MAX_CALLS: maxCalls }).phoneReservedCalls).toBe(reserved);
  });

  it.each([
    [{ WEB_ALLOWED_ORIGINS: 'https://app.example.com/' }, /WEB_ALLOWED_ORIGINS.*scheme:\/\/host/],
    [{ WEB_ALLOWED_ORIGINS: 'app.example.com' }, /WEB_ALLOWED_ORIGINS/],
    [{ WEB_MAX_CALL_DURATION_MS: '500' }, /WEB_MAX_CALL_DURATION_MS: at least 1000, or 0/],
    [{ WEB_MAX_CALLS_PER_USER: '0' }, /WEB_MAX_CALLS_PER_USER/],
    [{ WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: 'lots' }, /WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE/],
    [
      { AGENT_MAX_CALLS: '2', AGENT_PHONE_RESERVED_CALLS: '3' },
      /AGENT_PHONE_RESERVED_CALLS: 3 is more than AGENT_MAX_CALLS \(2\)/,
    ],
  ])('rejects %o', (env, message) => {
    expect(configError(env)).toMatch(message);
  });

  it('uses loopback addresses in loopback mode', () => {
    const c = parseConfig({ SWITCHBOARD_NETWORK: 'loopback' });
    expect(c.livekit.url).toBe('ws://127.0.0.1:7880');
  });

  it('talks to OpenAI, or any compatible server, when OPENAI_API_KEY is set', () => {
    const c = parseConfig({
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'http://localhost:11434/v1',
      OPENAI_LLM_MODEL: 'llama3.1',
    });
    expect(c.models).toMatchObject({
      kind: 'openai',
      apiKey: 'sk-test',
      baseUrl: 'http://localhost:11434/v1',
      llmModel: 'llama3.1',
    });
  });

  it('never sends the local development key to a remote server, and lists every problem at once', () => {
    const message = configError({ LIVEKIT_URL: 'wss://example.livekit.cloud' });
    expect(message).toContain('LIVEKIT_API_KEY: required when LIVEKIT_URL is set');
    expect(message).toContain('LIVEKIT_API_SECRET: required when LIVEKIT_URL is set');
  });

  it.each([
    [{ LIVEKIT_URL: 'not a url' }, 'LIVEKIT_URL'],
    [{ LIVEKIT_URL: 'ftp://x' }, 'LIVEKIT_URL'],
    [{ SWITCHBOARD_NETWORK: 'wifi' }, 'SWITCHBOARD_NETWORK'],
    [{ LIVEKIT_AGENT_NAME: 'has spaces' }, 'LIVEKIT_AGENT_NAME'],
    [{ AGENT_HTTP_PORT: 'eighty' }, 'AGENT_HTTP_PORT'],
    [{ AGENT_IDLE_PROCESSES: '0' }, 'AGENT_IDLE_PROCESSES'],
    [{ OPENAI_BASE_URL: 'http://localhost:11434/v1' }, 'OPENAI_API_KEY'],
  ])('rejects %o naming %s', (env, variable) => {
    expect(configError(env)).toContain(variable);
  });

  it('never prints a secret in its errors', () => {
    const message = configError({
      LIVEKIT_URL: 'wss://x.example',
      LIVEKIT_API_SECRET: 'super-secret-value',
    });
    expect(message).not.toContain('super-secret-value');
  });
});

describe('.env files', () => {
  it('.env.example documents every variable the package reads, and nothing else', async () => {
    const text = await readFile('.env.example', 'utf8');
    const documented = [...text.matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it('.env.local is read at start; the environment wins over the file', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'sb-env-')), '.env.local');
    await writeFile(file, 'AGENT_MAX_CALLS=3\nLOG_LEVEL=debug\n');
    const saved = { ...process.env };
    try {
      delete process.env.AGENT_MAX_CALLS;
      process.env.LOG_LEVEL = 'warn';
      const c = loadConfig(file);
      expect(c.maxConcurrentCalls).toBe(3);
      expect(c.worker.logLevel).toBe('warn');
    } finally {
      process.env = saved;
    }
  });

  it('a .env.local that cannot be read is one clear error', () => {
    expect(() => loadConfig('/')).toThrow(/Could not read \/ .*Fix or remove the file/);
  });
});
