import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  checkSipConfigText,
  DEFAULT_CONFIG,
  desiredState,
  EXIT,
  loadSipConfig,
  runSipCommand,
  type CliDeps,
} from '../../sip-dispatch/index.js';
import { FakeSipApi } from '../../sip-dispatch/sip-api.fake.js';
import { parseCallOptions } from '../../src/dispatch/index.js';

/**
 * The `production` environment of the project's own sip-dispatch/switchboard.yaml: the carrier
 * setup docs/carriers.md describes (Telnyx). Loaded through the same code path as
 * `npm run sip -- validate --env production`, offline, against a fake server where one is needed.
 */
const NUMBER = '+12025550142';
const TELNYX_US_SIGNALLING = ['192.76.120.10', '64.16.250.10'];
const PASSWORD_ENV = 'TELNYX_SIP_PASSWORD';

const run = async (argv: string[], secrets: Record<string, string> = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const api = new FakeSipApi();
  const deps: CliDeps = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    color: false,
    secret: (n) => secrets[n],
    connect: () => api,
    serverLabel: 'fake',
  };
  const code = await runSipCommand(argv, deps);
  return { code, out: out.join('\n'), err: err.join('\n'), api };
};

/** Every key anywhere in a parsed YAML value, with its path. */
function keys(value: unknown, path = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${path}${k}`, ...keys(v, `${path}${k}.`)]);
}

describe('sip-dispatch production environment (sip-dispatch/switchboard.yaml)', () => {
  it('validates with no problems, as the CLI loads it', async () => {
    const text = await readFile(DEFAULT_CONFIG, 'utf8');
    expect(checkSipConfigText(text, 'switchboard.yaml', 'production').problems).toEqual([]);
    const loaded = await loadSipConfig(DEFAULT_CONFIG, 'production');
    expect(loaded.env).toBe('production');
  });

  it('`validate --env production` exits 0, also with --json', async () => {
    const plain = await run(['validate', '--env', 'production']);
    expect(plain.code).toBe(EXIT.ok);
    expect(plain.out).toContain('(environment production) is valid.');
    const json = await run(['validate', '--env', 'production', '--json']);
    expect(json.code).toBe(EXIT.ok);
    expect(JSON.parse(json.out)).toEqual({ valid: true, problems: [], warnings: [] });
  });

  it('replaces the demo line with the carrier trunks and the rule for the production number', async () => {
    const { config } = await loadSipConfig(DEFAULT_CONFIG, 'production');
    expect(Object.keys(config.inboundTrunks)).toEqual(['carrier']);
    expect(Object.keys(config.outboundTrunks)).toEqual(['carrier']);
    expect(Object.keys(config.dispatchRules)).toEqual(['main']);
    expect(config.inboundTrunks.carrier).toMatchObject({
      numbers: [NUMBER],
      allowedAddresses: TELNYX_US_SIGNALLING,
    });
    expect(config.outboundTrunks.carrier).toMatchObject({
      address: 'sip.telnyx.com',
      transport: 'tcp',
      numbers: [NUMBER],
    });
    expect(config.dispatchRules.main).toMatchObject({
      type: 'individual',
      trunks: ['carrier'],
      calledNumbers: [NUMBER],
      agents: [{ name: 'switchboard' }],
    });
  });

  it('takes the carrier password from an environment variable, never from the file', async () => {
    const { config } = await loadSipConfig(DEFAULT_CONFIG, 'production');
    const auth = config.outboundTrunks.carrier?.auth;
    expect(auth?.passwordEnv).toBe(PASSWORD_ENV);
    expect(auth?.username.length).toBeGreaterThan(0);
    // The Telnyx username header repeats the username, as LiveKit's Telnyx guide asks.
    expect(config.outboundTrunks.carrier?.headers).toEqual({ 'X-Telnyx-Username': auth?.username });
    // No key of the file holds a password itself; the schema would reject `password:` anyway.
    const raw: unknown = parse(await readFile(DEFAULT_CONFIG, 'utf8'));
    const secretKeys = keys(raw).filter((k) => /pass|secret|token/i.test(k.split('.').at(-1)!));
    expect(
      secretKeys.every((k) => k.endsWith('.passwordEnv')),
      secretKeys.join(', '),
    ).toBe(true);

    const missing: string[] = [];
    desiredState(
      config,
      () => undefined,
      (name, where) => missing.push(`${name} ${where}`),
    );
    expect(missing).toEqual([`${PASSWORD_ENV} outboundTrunks.carrier.auth`]);
  });

  it('builds the plan input: the trunks and rule, with the secret resolved from the environment', async () => {
    const { config } = await loadSipConfig(DEFAULT_CONFIG, 'production');
    const desired = desiredState(config, (n) => (n === PASSWORD_ENV ? 'pw-from-env' : undefined));
    expect(desired.inboundTrunks.map((t) => [t.id, t.state.name, t.state.numbers])).toEqual([
      ['carrier', 'switchboard main line', [NUMBER]],
    ]);
    expect(desired.inboundTrunks[0]!.state).toMatchObject({
      allowedAddresses: TELNYX_US_SIGNALLING,
      authUsername: '',
      authPassword: '',
    });
    expect(desired.outboundTrunks.map((t) => [t.id, t.state.name, t.state.address])).toEqual([
      ['carrier', 'carrier', 'sip.telnyx.com'],
    ]);
    expect(desired.outboundTrunks[0]!.state.authPassword).toBe('pw-from-env');
    expect(desired.dispatchRules.map((r) => [r.id, r.state.trunks, r.state.calledNumbers])).toEqual(
      [['main', ['carrier'], [NUMBER]]],
    );
  });

  it("gives the agent transfer options it accepts, through the outbound trunk's server name", async () => {
    const { config } = await loadSipConfig(DEFAULT_CONFIG, 'production');
    const desired = desiredState(config, () => 'pw');
    const metadata = desired.dispatchRules[0]!.state.agents[0]!.metadata;
    const parsed = parseCallOptions(metadata);
    expect(parsed.ok, parsed.ok ? '' : parsed.error).toBe(true);
    const transfer = parsed.ok ? parsed.options.transfer : undefined;
    expect(transfer?.human).toMatchObject({
      number: '+12025550143',
      outboundTrunk: desired.outboundTrunks[0]!.state.name,
      referTo: 'sip:+12025550144@sip.telnyx.com',
    });
    expect(transfer?.coldTarget).toBe('sip:+12025550144@sip.telnyx.com');
  });

  it('`plan --env production` names the missing password and touches no server object', async () => {
    const r = await run(['plan', '--env', 'production']);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toContain(`${PASSWORD_ENV} (the password of outboundTrunks.carrier.auth)`);
    expect(r.api.calls).toEqual([]);
  });

  it('`plan --env production` with the password set creates the three objects, secret masked', async () => {
    const r = await run(['plan', '--env', 'production', '--json'], { [PASSWORD_ENV]: 'pw-123' });
    expect(r.code).toBe(EXIT.changesPending);
    expect(r.out).not.toContain('pw-123');
    const plan = JSON.parse(r.out) as { upserts: { action: string; kind: string; id: string }[] };
    expect(plan.upserts.map((c) => `${c.action} ${c.kind} ${c.id}`)).toEqual([
      'create inboundTrunk carrier',
      'create outboundTrunk carrier',
      'create dispatchRule main',
    ]);
  });

  it('leaves the local environment as it was: the demo line only', async () => {
    const { config } = await loadSipConfig(DEFAULT_CONFIG, 'local');
    expect(Object.keys(config.inboundTrunks)).toEqual(['demo']);
    expect(config.inboundTrunks.demo?.numbers).toEqual(['+15550100']);
    expect(config.inboundTrunks.demo?.allowedAddresses).toEqual([]);
    expect(config.outboundTrunks).toEqual({});
    expect(Object.keys(config.dispatchRules)).toEqual(['demo']);
    expect(config.dispatchRules.demo?.agents).toEqual([{ name: 'switchboard', attributes: {} }]);
    // The demo trunk is open to any source on purpose (the stack's network is its own).
    expect(config.inboundTrunks.demo?.allowAnySource).toBe(true);
  });
});
