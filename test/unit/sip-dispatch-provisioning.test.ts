/**
 * Provisioning never destroys what it does not model, and validate refuses what an operator gets
 * wrong: read-modify-write updates (fields set in the console or with `lk` survive), plan and
 * export show them, every invalid config named by file, entry and field, PINs from the
 * environment, real IPs and CIDRs, creates before deletes, and a confirmation for a destructive
 * prune. Offline: the fake server and the adapter's pure mapping.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { nearMiss } from '../../sip-dispatch/environments.js';
import {
  addressProblem,
  ApplyError,
  applyPlan,
  checkSipConfigText,
  desiredState,
  EXIT,
  exportSipConfig,
  markerMetadata,
  planSipConfig,
  runSipCommand,
  SipConfig,
  type CliDeps,
  type DesiredState,
} from '../../sip-dispatch/index.js';
import { fromServer, mergeForUpdate, toJson } from '../../sip-dispatch/livekit-sip-api.js';
import { renderPlan } from '../../sip-dispatch/render.js';
import { failingAt, FakeSipApi } from '../../sip-dispatch/sip-api.fake.js';
import { callOptionsIssues } from '../../src/dispatch/call-options.js';

const BASE = {
  inboundTrunks: { main: { numbers: ['+15550100'], allowedAddresses: ['192.0.2.0/24'] } },
  dispatchRules: {
    main: {
      type: 'individual',
      roomPrefix: 'call-',
      trunks: ['main'],
      agents: [{ name: 'switchboard' }],
    },
  },
};
const check = (v: unknown, env: string | undefined = 'production') =>
  checkSipConfigText(typeof v === 'string' ? v : stringify(v), 'sip.yaml', env);
const desired = (v: unknown, secrets: Record<string, string> = {}): DesiredState =>
  desiredState(SipConfig.parse(v), (n) => secrets[n]);
const withRule = (rule: Record<string, unknown>) => ({
  ...BASE,
  dispatchRules: { main: { ...BASE.dispatchRules.main, ...rule } },
});
const withTrunk = (trunk: Record<string, unknown>) => ({
  ...BASE,
  inboundTrunks: { main: { ...BASE.inboundTrunks.main, ...trunk } },
});
const withAgentMetadata = (metadata: unknown) =>
  withRule({ agents: [{ name: 'switchboard', metadata }] });

describe('validate rejects what an operator gets wrong, naming file, entry and field', () => {
  it.each([
    [
      'a typo in an agent option (an object)',
      withAgentMetadata({ maxCallDurationMS: 600_000 }),
      'dispatchRules.main.agents[0].metadata.maxCallDurationMS',
      /"maxCallDurationMS" is not a call option; did you mean "maxCallDurationMs"\?/,
    ],
    [
      'a typo in an agent option (JSON text, as export writes it)',
      withAgentMetadata('{"maxCallDurationMS": 600000}'),
      'dispatchRules.main.agents[0].metadata',
      /maxCallDurationMS: "maxCallDurationMS" is not a call option/,
    ],
    [
      'an agent option out of range',
      withAgentMetadata({ silenceTimeoutMs: 5 }),
      'dispatchRules.main.agents[0].metadata.silenceTimeoutMs',
      /Too small/i,
    ],
    [
      'agent metadata that is not JSON',
      withAgentMetadata('fast please'),
      'dispatchRules.main.agents[0].metadata',
      /not JSON/,
    ],
    [
      'an environment override whose entry key is misspelt',
      {
        ...BASE,
        environments: { production: { inboundTrunks: { mian: { numbers: ['+1555'] } } } },
      },
      'environments.production.inboundTrunks.mian',
      /"mian" is not an entry of inboundTrunks, so this adds a new one.*did you mean "main"\?/,
    ],
    [
      'an environment dropping an entry that does not exist',
      { ...BASE, environments: { production: { dispatchRules: { mian: null } } } },
      'environments.production.dispatchRules.mian',
      /null drops nothing.*did you mean "main"\?/,
    ],
    [
      'an environment override under the wrong section',
      {
        ...BASE,
        outboundTrunks: { desk: { address: 'pbx.example.com', numbers: ['+15550000'] } },
        environments: { production: { inboundTrunks: { desk: { numbers: ['+15550001'] } } } },
      },
      'environments.production.inboundTrunks.desk',
      /"desk" is an entry of outboundTrunks, not of inboundTrunks/,
    ],
    ['an empty file', '', '', /no trunks and no dispatch rules/],
    ['a file of empty sections', { inboundTrunks: {}, dispatchRules: {} }, '', /no trunks/],
    [
      'an environment that drops every entry',
      {
        ...BASE,
        environments: {
          production: { inboundTrunks: { main: null }, dispatchRules: { main: null } },
        },
      },
      '',
      /no trunks and no dispatch rules/,
    ],
    [
      'an impossible CIDR',
      withTrunk({ allowedAddresses: ['10.0.0.0/33'] }),
      'inboundTrunks.main.allowedAddresses[0]',
      /prefix length \/33; an IPv4 prefix is \/0 to \/32/,
    ],
    [
      'an address that is no IP',
      withTrunk({ allowedAddresses: ['999.1.2.3/77'] }),
      'inboundTrunks.main.allowedAddresses[0]',
      /not an IP address or CIDR/,
    ],
    [
      'a CIDR with host bits set',
      withTrunk({ allowedAddresses: ['10.1.2.3/8'] }),
      'inboundTrunks.main.allowedAddresses[0]',
      /host bits set.*10\.0\.0\.0\/8/,
    ],
    [
      'a host name as an allowed address',
      withTrunk({ allowedAddresses: ['sip.carrier.example'] }),
      'inboundTrunks.main.allowedAddresses[0]',
      /host name/,
    ],
    [
      'both pin and pinEnv',
      withRule({ pin: '1234', pinEnv: 'SIP_PIN' }),
      'dispatchRules.main.pin',
      /pin or pinEnv, not both/,
    ],
    [
      'a called number on none of the rule’s trunks',
      withRule({ calledNumbers: ['+15550199'] }),
      'dispatchRules.main.calledNumbers[0]',
      /\+15550199 is not a number of "main", so this part of the rule never matches/,
    ],
    [
      'a modelled field in serverFields',
      withTrunk({ serverFields: { krispEnabled: true } }),
      'inboundTrunks.main.serverFields.krispEnabled',
      /krispEnabled is a field sip-dispatch models/,
    ],
    [
      'a serverField the protocol does not have',
      withTrunk({ serverFields: { krispEnbled: true } }),
      'inboundTrunks.main.serverFields',
      /not fields of the server's object/,
    ],
    [
      'two outbound trunks with one name (a transfer finds its trunk by name)',
      {
        ...BASE,
        outboundTrunks: {
          a: { name: 'desk', address: 'pbx.example.com', numbers: ['+15550000'] },
          b: { name: 'desk', address: 'pbx2.example.com', numbers: ['+15550001'] },
        },
      },
      'outboundTrunks.b.name',
      /"a" and "b" have the same name "desk"/,
    ],
    [
      'a destination country in lower case',
      {
        ...BASE,
        outboundTrunks: {
          a: { address: 'pbx.example.com', numbers: ['+15550000'], destinationCountry: 'us' },
        },
      },
      'outboundTrunks.a.destinationCountry',
      /ISO 3166-1 alpha-2/,
    ],
    [
      'a SIP URI as fromHost',
      {
        ...BASE,
        outboundTrunks: {
          a: { address: 'pbx.example.com', numbers: ['+15550000'], fromHost: 'sip:me@x.example' },
        },
      },
      'outboundTrunks.a.fromHost',
      /not a SIP URI/,
    ],
    [
      'a header name with a space',
      withTrunk({ headersToAttributes: { 'X Tier': 'tier' } }),
      'inboundTrunks.main.headersToAttributes.X Tier',
      /SIP header name/,
    ],
    [
      'allowAnySource on a trunk that has allowed addresses',
      withTrunk({ allowAnySource: true }),
      'inboundTrunks.main.allowAnySource',
      /allowAnySource is set, but the trunk has auth or allowedAddresses/,
    ],
    [
      'a room timeout that is not whole seconds',
      withRule({ room: { emptyTimeoutMs: 1500 } }),
      'dispatchRules.main.room.emptyTimeoutMs',
      /multiple of 1000/,
    ],
  ])('%s', (_what, config, path, message) => {
    const { problems, config: ok } = check(config);
    expect(ok).toBeUndefined();
    const p = problems.find((x) => x.path === path && message.test(x.message));
    expect(p, JSON.stringify(problems, null, 2)).toBeDefined();
    expect(p!.file).toBe('sip.yaml');
    expect(p!.fix.length).toBeGreaterThan(10);
    if (path !== '') expect(p!.line).toBeGreaterThan(0);
  });

  it('reports schema problems and cross-reference problems at once', () => {
    const { problems } = check({
      inboundTrunks: {
        main: { numbers: ['+15550100'], allowedAddresses: ['10.0.0.0/33'] },
        other: { numbers: ['+15550101'], allowedAddresses: ['192.0.2.1'] },
      },
      dispatchRules: {
        main: { type: 'individual', trunks: ['main'] },
        typo: { type: 'individual', trunks: ['mian'], agents: [{ name: 'x', metadata: { y: 1 } }] },
      },
    });
    expect(problems.map((p) => p.path)).toEqual(
      expect.arrayContaining([
        'inboundTrunks.main.allowedAddresses[0]',
        'dispatchRules.typo.trunks[0]',
        'dispatchRules.typo.agents[0].metadata.y',
        'inboundTrunks.other.numbers[0]',
      ]),
    );
  });

  it('does not call a trunk unknown when it exists but has a schema problem', () => {
    const { problems } = check({
      inboundTrunks: { main: { numbers: ['+15550100'], allowedAddresses: ['10.0.0.0/33'] } },
      dispatchRules: { main: { type: 'individual', trunks: ['main'] } },
    });
    expect(problems.map((p) => p.path)).toEqual(['inboundTrunks.main.allowedAddresses[0]']);
  });

  it('accepts an empty config only when destruction is confirmed', () => {
    expect(checkSipConfigText('', 'sip.yaml', undefined, { allowEmpty: true }).problems).toEqual(
      [],
    );
  });

  it('accepts numbered entries added by an environment (line-1, line-2 are no typo)', () => {
    const { problems } = check({
      inboundTrunks: { 'line-1': { numbers: ['+15550100'], allowedAddresses: ['192.0.2.1'] } },
      dispatchRules: { r: { type: 'individual' } },
      environments: {
        production: {
          inboundTrunks: { 'line-2': { numbers: ['+15550101'], allowedAddresses: ['192.0.2.1'] } },
        },
      },
    });
    expect(problems).toEqual([]);
  });

  it('accepts every modelled field', () => {
    const { problems, warnings } = check({
      inboundTrunks: {
        main: {
          numbers: ['+15550100'],
          allowedAddresses: ['192.0.2.0/24', '2001:db8::/32', '198.51.100.7'],
          auth: { username: 'u', passwordEnv: 'PW', realm: 'sip.example.com' },
          headers: { 'X-Reply': 'yes' },
          headersToAttributes: { 'X-Tier': 'tier' },
          attributesToHeaders: { tier: 'X-Tier' },
          includeHeaders: 'all',
          noiseCancellation: true,
          mediaEncryption: 'allow',
          mediaTimeoutMs: 15_000,
        },
      },
      outboundTrunks: {
        out: {
          address: 'pbx.example.com',
          numbers: ['+15550000'],
          destinationCountry: 'US',
          fromHost: 'calls.example.com',
          headersToAttributes: { 'X-A': 'a' },
          attributesToHeaders: { a: 'X-A' },
          includeHeaders: 'x-headers',
          mediaEncryption: 'require',
        },
      },
      dispatchRules: {
        main: {
          type: 'individual',
          trunks: ['main'],
          pinEnv: 'SIP_MAIN_PIN',
          noiseCancellation: true,
          mediaEncryption: 'require',
          room: {
            emptyTimeoutMs: 30_000,
            departureTimeoutMs: 5_000,
            maxParticipants: 3,
            metadata: { line: 'main' },
          },
          agents: [
            {
              name: 'switchboard',
              metadata: { maxCallDurationMs: 600_000 },
              attributes: { role: 'desk' },
            },
          ],
        },
      },
    });
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
  });
});

describe('validate warns about what may be meant', () => {
  it.each([
    [
      'a trunk with neither auth nor allowed addresses',
      { ...BASE, inboundTrunks: { main: { numbers: ['+15550100'] } } },
      'inboundTrunks.main',
      /neither auth nor allowedAddresses: anyone who can reach the SIP service can call \+15550100/,
    ],
    [
      'two inbound trunks with one name',
      {
        inboundTrunks: {
          a: { name: 'x', numbers: ['+15550100'], allowedAddresses: ['192.0.2.1'] },
          b: { name: 'x', numbers: ['+15550101'], allowedAddresses: ['192.0.2.1'] },
        },
        dispatchRules: { r: { type: 'individual' } },
      },
      'inboundTrunks.b.name',
      /same name "x"/,
    ],
  ])('%s', (_what, config, path, message) => {
    const { problems, warnings } = check(config);
    expect(problems).toEqual([]);
    expect(warnings.find((w) => w.path === path)?.message).toMatch(message);
  });

  it('is silent for a trunk open on purpose (allowAnySource)', () => {
    const { warnings } = check({
      ...BASE,
      inboundTrunks: { main: { numbers: ['+15550100'], allowAnySource: true } },
    });
    expect(warnings).toEqual([]);
  });
});

describe('allowed addresses are real IPs and CIDRs', () => {
  it.each([
    ['192.0.2.10', undefined],
    ['192.0.2.0/24', undefined],
    ['0.0.0.0/0', undefined],
    ['2001:db8::/32', undefined],
    ['::1', undefined],
    ['::ffff:192.0.2.0/120', undefined],
    ['10.0.0.0/33', /prefix length/],
    ['999.1.2.3/77', /not an IP/],
    ['10.0.0.1/8', /host bits/],
    ['2001:db8::1/32', /host bits.*2001:db8::\/32/],
    ['10.0.0.0/8x', /prefix length/],
    ['carrier.example', /host name/],
    ['192.0.2.0/24 ', /contains a space/],
  ])('%s', (address, problem) => {
    const p = addressProblem(address);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });
});

describe('environment keys that look like typos', () => {
  it.each([
    ['mian', 'main', true],
    ['dmeo', 'demo', true],
    ['ofice', 'office', true],
    ['Office', 'office', true],
    ['carier-line', 'carrier-line', true],
    ['line-2', 'line-1', false],
    ['extra', 'main', false],
    ['carrier', 'demo', false],
  ])('%s vs %s: %s', (a, b, typo) => {
    expect(nearMiss(a, b)).toBe(typo);
  });
});

describe('the agent options a rule may carry (src/dispatch/call-options.ts)', () => {
  it.each([
    [undefined, []],
    ['', []],
    [{ maxCallDurationMs: 600_000 }, []],
    ['{"silenceTimeoutMs": 10000}', []],
    [{ maxCallDurationMS: 1 }, [['maxCallDurationMS']]],
    [
      { transfer: { human: { number: '+15550009', outboundTrunk: 'desk', extra: 1 } } },
      [['transfer', 'human', 'extra']],
    ],
    ['nope', [[]]],
  ])('%j has problems at %j', (metadata, paths) => {
    expect(callOptionsIssues(metadata).map((i) => i.path)).toEqual(paths);
  });
});

/** What a console or `lk` sets beyond the model, as the protocol's JSON. */
const TRUNK_EXTRA = { media: { codecs: [{ name: 'PCMU', rate: 8000 }], onlyListedCodecs: true } };
const RULE_EXTRA = {
  roomPreset: 'support-preset',
  roomConfig: { syncStreams: true, agents: [{ deployment: 'staging' }] },
};

describe('read-modify-write: fields beyond the model survive (fake server)', () => {
  const trunk = desired(BASE).inboundTrunks[0]!.state;
  const rule = desired(BASE).dispatchRules[0]!.state;
  const seeded = (marked: boolean) => {
    const api = new FakeSipApi();
    const t = api.seed(
      'inboundTrunk',
      { ...trunk, name: 'main' },
      marked ? markerMetadata({ id: 'main' }) : '',
      TRUNK_EXTRA,
    );
    api.seed(
      'dispatchRule',
      { ...rule, name: 'main', trunks: [t] },
      marked ? markerMetadata({ id: 'main' }) : '',
      RULE_EXTRA,
    );
    return api;
  };
  const extras = async (api: FakeSipApi) => {
    const s = await api.read();
    return [s.inboundTrunks[0]!.unmodelled, s.dispatchRules[0]!.unmodelled];
  };

  it.each([
    ['apply of a changed field', true, { adopt: false }],
    ['apply --adopt', false, { adopt: true }],
  ])('%s keeps them; plan says the objects carry them', async (_what, marked, options) => {
    const api = seeded(marked);
    const changed = withTrunk({ numbers: ['+15550100', '+15550101'] });
    const want = desired({
      ...changed,
      dispatchRules: { main: { ...BASE.dispatchRules.main, attributes: { line: 'main' } } },
    });
    const plan = planSipConfig(want, await api.read(), options);
    expect(plan.upserts.map((c) => c.action)).toEqual(['update', 'update']);
    expect(plan.undescribed).toEqual([
      {
        kind: 'inboundTrunk',
        id: 'main',
        serverId: 'ST_1',
        fields: ['media.codecs[0].name', 'media.codecs[0].rate', 'media.onlyListedCodecs'],
      },
      {
        kind: 'dispatchRule',
        id: 'main',
        serverId: 'SDR_2',
        fields: ['roomConfig.agents[0].deployment', 'roomConfig.syncStreams', 'roomPreset'],
      },
    ]);
    expect(renderPlan(plan, { color: false }, 'h')).toContain(
      'inbound trunk main (ST_1) has fields the config does not describe, kept as they are by apply: media.codecs[0].name',
    );
    await applyPlan(api, plan);
    const after = await api.read();
    expect(after.inboundTrunks[0]!.state.numbers).toEqual(['+15550100', '+15550101']);
    expect(await extras(api)).toEqual([TRUNK_EXTRA, RULE_EXTRA]);
  });

  it('export writes them as serverFields; export → apply on a fresh server recreates them, and plans no change', async () => {
    const api = seeded(true);
    const exported = exportSipConfig(await api.read());
    expect(exported.config.inboundTrunks!.main!.serverFields).toEqual(TRUNK_EXTRA);
    expect(exported.config.dispatchRules!.main!.serverFields).toEqual(RULE_EXTRA);
    const { config, problems } = check(exported.config, undefined);
    expect(problems).toEqual([]);
    const want = desiredState(config!, () => undefined);
    expect(planSipConfig(want, await api.read()).upserts).toEqual([]);
    expect(planSipConfig(want, await api.read()).undescribed).toEqual([]);

    const fresh = new FakeSipApi();
    await applyPlan(fresh, planSipConfig(want, await fresh.read()));
    expect(await extras(fresh)).toEqual([TRUNK_EXTRA, RULE_EXTRA]);
  });

  it('a changed serverField is an update shown in plan', async () => {
    const api = seeded(true);
    const want = desired(withTrunk({ serverFields: { media: { onlyListedCodecs: false } } }));
    const plan = planSipConfig(want, await api.read());
    expect(plan.upserts[0]).toMatchObject({
      action: 'update',
      fields: [{ field: 'serverFields', before: TRUNK_EXTRA }],
    });
    await applyPlan(api, plan);
    expect((await extras(api))[0]).toEqual({
      media: { ...TRUNK_EXTRA.media, onlyListedCodecs: false },
    });
  });
});

describe('read-modify-write on the protocol (the adapter, livekit-sip-api.ts)', () => {
  const state = desired(
    withRule({ agents: [{ name: 'switchboard', metadata: { silenceTimeoutMs: 10_000 } }] }),
  );
  const serverTrunk = {
    sipTrunkId: 'ST_1',
    name: 'main',
    metadata: markerMetadata({ id: 'main' }),
    numbers: ['+15550100'],
    allowedAddresses: ['192.0.2.0/24'],
    krispEnabled: true,
    media: { codecs: [{ name: 'PCMU', rate: 8000 }], mediaTimeout: '20s' },
    createdAt: '2026-01-01T00:00:00Z',
  };
  const serverRule = {
    sipDispatchRuleId: 'SDR_1',
    name: 'main',
    metadata: markerMetadata({ id: 'main' }),
    rule: { dispatchRuleIndividual: { roomPrefix: 'old-', noRandomness: true } },
    trunkIds: ['ST_1'],
    roomPreset: 'preset',
    roomConfig: {
      syncStreams: true,
      emptyTimeout: 60,
      agents: [{ agentName: 'switchboard', deployment: 'staging' }],
    },
  };

  it('reads what is beyond the model as unmodelled', () => {
    expect(fromServer('inboundTrunk', 'ST_1', serverTrunk).unmodelled).toEqual({
      media: { codecs: [{ name: 'PCMU', rate: 8000 }] },
    });
    expect(fromServer('dispatchRule', 'SDR_1', serverRule).unmodelled).toEqual({
      rule: { dispatchRuleIndividual: { noRandomness: true } },
      roomPreset: 'preset',
      roomConfig: { syncStreams: true, agents: [{ deployment: 'staging' }] },
    });
  });

  it.each([
    [
      'an inbound trunk: modelled fields replaced (Krisp off, media timeout cleared), codecs kept',
      () =>
        mergeForUpdate(
          'inboundTrunk',
          serverTrunk,
          { ...state.inboundTrunks[0]!.state, name: 'main' },
          'm',
        ),
      {
        name: 'main',
        metadata: 'm',
        numbers: ['+15550100'],
        allowedAddresses: ['192.0.2.0/24'],
        allowedNumbers: [],
        authUsername: '',
        authPassword: '',
        includeHeaders: 'SIP_NO_HEADERS',
        krispEnabled: false,
        media: { codecs: [{ name: 'PCMU', rate: 8000 }] },
      },
    ],
    [
      'a rule of the same kind: noRandomness, preset, syncStreams and the deployment kept',
      () =>
        mergeForUpdate(
          'dispatchRule',
          serverRule,
          { ...state.dispatchRules[0]!.state, name: 'main', trunks: ['ST_1'] },
          'm',
        ),
      expect.objectContaining({
        rule: { dispatchRuleIndividual: { roomPrefix: 'call-', pin: '', noRandomness: true } },
        roomPreset: 'preset',
        roomConfig: {
          syncStreams: true,
          agents: [
            {
              agentName: 'switchboard',
              metadata: '{"silenceTimeoutMs":10000}',
              deployment: 'staging',
            },
          ],
        },
      }),
    ],
    [
      'a rule changing kind: the other kind’s leftovers go',
      () =>
        mergeForUpdate(
          'dispatchRule',
          serverRule,
          {
            ...state.dispatchRules[0]!.state,
            type: 'direct',
            roomPrefix: '',
            roomName: 'desk',
            trunks: ['ST_1'],
          },
          'm',
        ),
      expect.objectContaining({ rule: { dispatchRuleDirect: { roomName: 'desk', pin: '' } } }),
    ],
    [
      'serverFields merged into what the server has',
      () =>
        mergeForUpdate('inboundTrunk', serverTrunk, state.inboundTrunks[0]!.state, 'm', {
          media: { onlyListedCodecs: true },
        }),
      expect.objectContaining({
        media: { codecs: [{ name: 'PCMU', rate: 8000 }], onlyListedCodecs: true },
      }),
    ],
  ])('%s', (_what, merge, expected) => {
    const merged = merge();
    expect(merged).toEqual(expected);
    expect(merged).not.toHaveProperty('createdAt');
  });

  it('a create carries no server-owned or empty fields', () => {
    expect(toJson('dispatchRule', state.dispatchRules[0]!.state, 'm')).not.toHaveProperty('media');
  });
});

describe('apply --prune: creates before deletes, unless a conflict forces the order', () => {
  const seededBase = async () => {
    const api = new FakeSipApi();
    await applyPlan(api, planSipConfig(desired(BASE), await api.read()));
    return api;
  };

  it.each([
    [
      'a renamed entry without previousIds (its number moves): the old trunk goes first',
      {
        inboundTrunks: { primary: { numbers: ['+15550100'], allowedAddresses: ['192.0.2.0/24'] } },
        dispatchRules: { main: { ...BASE.dispatchRules.main, trunks: ['primary'] } },
      },
      ['delete inboundTrunk', 'create inboundTrunk', 'update dispatchRule'],
      ['it holds a number inbound trunk primary takes'],
    ],
    [
      'a replaced line on another number: the new one is created before the old one is deleted',
      {
        inboundTrunks: { other: { numbers: ['+15550101'], allowedAddresses: ['192.0.2.0/24'] } },
        dispatchRules: { other: { type: 'individual', trunks: ['other'] } },
      },
      ['create inboundTrunk', 'create dispatchRule', 'delete dispatchRule', 'delete inboundTrunk'],
      [undefined, undefined],
    ],
  ])('%s', async (_what, config, order, before) => {
    const api = await seededBase();
    api.calls.length = 0;
    const plan = planSipConfig(desired(config), await api.read());
    expect(plan.deletions.map((d) => d.before)).toEqual(before);
    await applyPlan(api, plan, 'all');
    expect(api.calls.map((c) => c.split(' ').slice(0, 2).join(' '))).toEqual(order);
    expect(planSipConfig(desired(config), await api.read()).upserts).toEqual([]);
  });

  it('a failed create leaves the old line in place', async () => {
    const api = await seededBase();
    const config = {
      inboundTrunks: { other: { numbers: ['+15550101'], allowedAddresses: ['192.0.2.0/24'] } },
      dispatchRules: { other: { type: 'individual', trunks: ['other'] } },
    };
    const err = await applyPlan(
      failingAt(api, 1),
      planSipConfig(desired(config), await api.read()),
      'all',
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const s = await api.read();
    expect([...s.inboundTrunks, ...s.dispatchRules].map((o) => o.marker?.id)).toEqual([
      'main',
      'main',
    ]);
  });
});

describe('secrets from the environment: pinEnv', () => {
  const withPin = withRule({ pinEnv: 'SIP_MAIN_PIN' });

  it('takes the PIN from the variable and names it when missing', () => {
    expect(desired(withPin, { SIP_MAIN_PIN: '2468' }).dispatchRules[0]!.state.pin).toBe('2468');
    const missing: string[] = [];
    desiredState(
      SipConfig.parse(withPin),
      () => undefined,
      (n, where) => missing.push(`${n} ${where}`),
    );
    expect(missing).toEqual(['SIP_MAIN_PIN dispatchRules.main.pinEnv']);
  });

  it('export writes a pinEnv reference, never the PIN; plan masks it', async () => {
    const api = new FakeSipApi();
    await applyPlan(
      api,
      planSipConfig(desired(withPin, { SIP_MAIN_PIN: '97531' }), await api.read()),
    );
    const exported = exportSipConfig(await api.read());
    expect(exported.config.dispatchRules!.main).toMatchObject({ pinEnv: 'SIP_MAIN_PIN' });
    expect(exported.secrets).toContain('SIP_MAIN_PIN');
    expect(JSON.stringify(exported)).not.toContain('97531');
    const plan = planSipConfig(desired(withPin, { SIP_MAIN_PIN: '11111' }), await api.read());
    const out = renderPlan(plan, { color: false }, 'h');
    expect(out).toContain('pin: (secret changed)');
    expect(out).not.toMatch(/97531|11111/);
  });
});

describe('a destructive prune needs --confirm-destroy', () => {
  const run = async (argv: string[], config: unknown, api: FakeSipApi) => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-sip-prov-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, typeof config === 'string' ? config : stringify(config));
    const out: string[] = [];
    const err: string[] = [];
    const deps: CliDeps = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      color: false,
      secret: () => undefined,
      connect: () => api,
      serverLabel: 'fake',
    };
    const code = await runSipCommand([...argv, '--config', file], deps);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const three = {
    inboundTrunks: {
      a: { numbers: ['+15550101'], allowedAddresses: ['192.0.2.1'] },
      b: { numbers: ['+15550102'], allowedAddresses: ['192.0.2.1'] },
      c: { numbers: ['+15550103'], allowedAddresses: ['192.0.2.1'] },
    },
    dispatchRules: { r: { type: 'individual' } },
  };
  const serverWithThree = async () => {
    const api = new FakeSipApi();
    expect((await run(['apply'], three, api)).code).toBe(EXIT.ok);
    api.calls.length = 0;
    return api;
  };
  const truncated = {
    inboundTrunks: { a: three.inboundTrunks.a },
    dispatchRules: three.dispatchRules,
  };

  it.each([
    ['an empty file', ['prune'], '', /no trunks and no dispatch rules/],
    ['a truncated file', ['prune'], truncated, /would delete 2 of the 4 object\(s\)/],
    ['a truncated file, apply --prune', ['apply', '--prune'], truncated, /would delete 2 of the 4/],
  ])('%s: refused, exit 2, nothing deleted', async (_what, argv, config, message) => {
    const api = await serverWithThree();
    const r = await run(argv, config, api);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(message);
    expect(api.calls).toEqual([]);
  });

  it('with --confirm-destroy it runs; plan says prune needs it', async () => {
    const api = await serverWithThree();
    const plan = await run(['plan', '--json'], truncated, api);
    expect(JSON.parse(plan.out)).toMatchObject({
      pruneNeedsConfirmation: expect.stringMatching(/2 of the 4/),
    });
    expect((await run(['prune', '--confirm-destroy'], truncated, api)).code).toBe(EXIT.ok);
    expect(api.calls.filter((c) => c.startsWith('delete'))).toHaveLength(2);
    expect((await run(['prune', '--confirm-destroy'], '', api)).code).toBe(EXIT.ok);
    expect((await api.read()).inboundTrunks).toEqual([]);
  });

  it('validate shows warnings (stderr, or in --json) and still exits 0', async () => {
    const open = { ...BASE, inboundTrunks: { main: { numbers: ['+15550100'] } } };
    const text = await run(['validate'], open, new FakeSipApi());
    expect(text.code).toBe(EXIT.ok);
    expect(text.err).toMatch(
      /^warning: .*inboundTrunks\.main: trunk "main" has neither auth nor allowedAddresses/,
    );
    const json = await run(['validate', '--json'], open, new FakeSipApi());
    expect(JSON.parse(json.out)).toMatchObject({
      valid: true,
      warnings: [{ path: 'inboundTrunks.main', line: 3 }],
    });
  });

  it('a prune of one object in four needs no confirmation', async () => {
    const api = await serverWithThree();
    const smaller = {
      ...three,
      inboundTrunks: { a: three.inboundTrunks.a, b: three.inboundTrunks.b },
    };
    expect((await run(['prune'], smaller, api)).code).toBe(EXIT.ok);
    expect(api.calls).toEqual(['delete inboundTrunk ST_3']);
  });
});
