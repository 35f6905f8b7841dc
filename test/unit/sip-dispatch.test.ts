import { SIPDispatchRuleInfo, SIPInboundTrunkInfo, SIPOutboundTrunkInfo } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  ApplyError,
  applyPlan,
  checkSipConfigText,
  desiredState,
  EXIT,
  exportSipConfig,
  markerMetadata,
  msToSeconds,
  parseMarker,
  planSipConfig,
  runSipCommand,
  SipConfig,
  type CliDeps,
  type DesiredState,
} from '../../sip-dispatch/index.js';
import {
  inboundFromJson,
  outboundFromJson,
  ruleFromJson,
  toJson,
} from '../../sip-dispatch/livekit-sip-api.js';
import { maskChange, renderPlan } from '../../sip-dispatch/render.js';
import { failingAt, FakeSipApi } from '../../sip-dispatch/sip-api.fake.js';

const BASE = {
  inboundTrunks: { main: { numbers: ['+15550100'] } },
  dispatchRules: {
    main: {
      type: 'individual',
      roomPrefix: 'call-',
      trunks: ['main'],
      agents: [{ name: 'switchboard' }],
    },
  },
};
const text = (v: unknown) => stringify(v);
const check = (v: unknown, env: string | undefined = 'local') =>
  checkSipConfigText(text(v), 'sip.yaml', env);
const desired = (v: unknown, secrets: Record<string, string> = {}): DesiredState =>
  desiredState(SipConfig.parse(v), (n) => secrets[n]);

describe('sip-dispatch validate', () => {
  it('accepts the project default config', () => {
    expect(check(BASE).problems).toEqual([]);
  });

  it.each([
    [
      'two default trunks',
      { inboundTrunks: { a: {}, b: {} }, dispatchRules: { r: { type: 'individual' } } },
      'inboundTrunks.b.numbers',
      /"a" and "b" are both default trunks/,
    ],
    [
      'a number on two trunks',
      {
        inboundTrunks: { a: { numbers: ['+15550100'] }, b: { numbers: ['15550100'] } },
        dispatchRules: { r: { type: 'individual' } },
      },
      'inboundTrunks.b.numbers',
      /\+15550100 is on two trunks, "a" and "b"/,
    ],
    [
      'rules clashing on trunk + number + PIN',
      {
        ...BASE,
        dispatchRules: {
          one: { type: 'individual', trunks: ['main'], calledNumbers: ['+15550100'], pin: '12' },
          two: {
            type: 'direct',
            roomName: 'x',
            trunks: ['main'],
            calledNumbers: ['+15550100'],
            pin: '12',
          },
        },
      },
      'dispatchRules.two',
      /rules "one" and "two" both match trunk "main", \+15550100, any caller and the same PIN/,
    ],
    [
      'a rule naming an unknown trunk',
      { ...BASE, dispatchRules: { main: { type: 'individual', trunks: ['mian'] } } },
      'dispatchRules.main.trunks[0]',
      /trunk "mian" is not defined in inboundTrunks/,
    ],
    [
      'an inbound number matched by no rule',
      {
        inboundTrunks: { main: { numbers: ['+15550100', '+15550101'] } },
        dispatchRules: {
          r: { type: 'individual', trunks: ['main'], calledNumbers: ['+15550100'] },
        },
      },
      'inboundTrunks.main.numbers[1]',
      /calls to \+15550101 on trunk "main" match no dispatch rule/,
    ],
    [
      'an unknown key',
      { ...BASE, inboundTrunks: { main: { numbrs: ['+1555'] } } },
      'inboundTrunks.main',
      /Unrecognized key/,
    ],
    [
      'an inline password',
      {
        ...BASE,
        inboundTrunks: { main: { numbers: ['+15550100'], auth: { username: 'u', password: 'p' } } },
      },
      'inboundTrunks.main.auth',
      /Unrecognized key/,
    ],
    [
      'a direct rule without a room',
      { ...BASE, dispatchRules: { main: { type: 'direct', trunks: ['main'] } } },
      'dispatchRules.main.roomName',
      /a direct rule needs roomName/,
    ],
    [
      'a ringing timeout that is not whole seconds',
      { ...BASE, inboundTrunks: { main: { numbers: ['+15550100'], ringingTimeoutMs: 1500 } } },
      'inboundTrunks.main.ringingTimeoutMs',
      /multiple of 1000/,
    ],
    [
      'a previous id still in use',
      {
        inboundTrunks: {
          main: { numbers: ['+15550100'] },
          other: { previousIds: ['main'], numbers: ['+15550101'] },
        },
        dispatchRules: { r: { type: 'individual' } },
      },
      'inboundTrunks.other.previousIds[0]',
      /"main" is still in use/,
    ],
    [
      "a transfer through an outbound trunk the config doesn't define",
      {
        ...BASE,
        outboundTrunks: { desk: { address: 'pbx.example.com', numbers: ['+15550000'] } },
        dispatchRules: {
          main: {
            ...BASE.dispatchRules.main,
            agents: [
              {
                name: 'switchboard',
                metadata: { transfer: { human: { number: '+15550009', outboundTrunk: 'dsek' } } },
              },
            ],
          },
        },
      },
      'dispatchRules.main.agents[0].metadata.transfer.human.outboundTrunk',
      /outbound trunk "dsek" is not defined in outboundTrunks/,
    ],
  ])('rejects %s with the path and a fix', (_what, config, path, message) => {
    const { problems, config: ok } = check(config);
    expect(ok).toBeUndefined();
    const p = problems.find((x) => x.path === path);
    expect(p, JSON.stringify(problems, null, 2)).toBeDefined();
    expect(p!.message).toMatch(message);
    expect(p!.fix.length).toBeGreaterThan(10);
    expect(p!.file).toBe('sip.yaml');
    expect(p!.line).toBeGreaterThan(0);
  });

  it('accepts a transfer through an outbound trunk named by its config key or its name', () => {
    const withDesk = (outboundTrunk: string) => ({
      ...BASE,
      outboundTrunks: {
        desk: { address: 'pbx.example.com', numbers: ['+15550000'] },
        night: { name: 'Night desk', address: 'pbx.example.com', numbers: ['+15550001'] },
      },
      dispatchRules: {
        main: {
          ...BASE.dispatchRules.main,
          agents: [
            {
              name: 'switchboard',
              metadata: { transfer: { human: { number: '+15550009', outboundTrunk } } },
            },
          ],
        },
      },
    });
    expect(check(withDesk('desk')).problems).toEqual([]);
    expect(check(withDesk('Night desk')).problems).toEqual([]);
  });

  it('checks the outbound trunk named in agent metadata given as JSON text, as export writes it', () => {
    const { problems } = check({
      ...BASE,
      dispatchRules: {
        main: {
          ...BASE.dispatchRules.main,
          agents: [
            {
              name: 'switchboard',
              metadata: JSON.stringify({ transfer: { human: { outboundTrunk: 'desk' } } }),
            },
          ],
        },
      },
    });
    expect(problems.map((p) => p.message)).toContain(
      'outbound trunk "desk" is not defined in outboundTrunks, so the agent could not dial the human',
    );
  });

  it('reports a problem of an environment override at its place in the environment', () => {
    const { problems } = check(
      { ...BASE, environments: { production: { dispatchRules: { main: { trunks: ['nope'] } } } } },
      'production',
    );
    expect(problems.map((p) => p.path)).toEqual([
      'environments.production.dispatchRules.main.trunks[0]',
      'inboundTrunks.main.numbers[0]',
    ]);
  });

  it('names the environments there are when --env names another', () => {
    const { problems } = check({ ...BASE, environments: { local: {}, production: {} } }, 'staging');
    expect(problems[0]?.message).toBe('there is no environment "staging"');
    expect(problems[0]?.fix).toContain('local, production');
  });

  it('reports YAML syntax errors with their line', () => {
    const r = checkSipConfigText('inboundTrunks:\n  a: [\n', 'x.yaml', undefined);
    expect(r.problems[0]?.message).toMatch(/not valid YAML/);
    expect(r.problems[0]?.line).toBeGreaterThan(0);
  });
});

describe('sip-dispatch environments', () => {
  const file = {
    ...BASE,
    environments: {
      local: {},
      production: {
        inboundTrunks: {
          main: { numbers: ['+15551230000'], auth: { username: 'sb', passwordEnv: 'SIP_PW' } },
          extra: { numbers: ['+15551230001'] },
        },
        dispatchRules: {
          main: { calledNumbers: [] },
          extra: { type: 'direct', roomName: 'x', trunks: ['extra'] },
        },
      },
      bare: { dispatchRules: { main: null }, inboundTrunks: { main: null } },
    },
  };
  it.each([
    ['local', ['main'], ['+15550100']],
    ['production', ['main', 'extra'], ['+15551230000']],
    ['bare', [], undefined],
  ])('%s: trunks %j, main numbers %j', (env, trunks, numbers) => {
    // "bare" drops every entry: only valid when an empty config is confirmed.
    const { config, problems } = checkSipConfigText(text(file), 'sip.yaml', env, {
      allowEmpty: true,
    });
    expect(problems).toEqual([]);
    expect(Object.keys(config!.inboundTrunks)).toEqual(trunks);
    expect(config!.inboundTrunks.main?.numbers).toEqual(numbers);
  });
  it('overrides replace whole fields and keep the rest of the base entry', () => {
    const { config } = check(file, 'production');
    expect(config!.dispatchRules.main).toMatchObject({ roomPrefix: 'call-', trunks: ['main'] });
    expect(config!.inboundTrunks.main?.auth).toEqual({ username: 'sb', passwordEnv: 'SIP_PW' });
  });
});

describe('sip-dispatch plan', () => {
  it('creates everything on an empty server, trunks before rules', async () => {
    const plan = planSipConfig(desired(BASE), await new FakeSipApi().read());
    expect(plan.upserts.map((c) => `${c.action} ${c.kind} ${c.id}`)).toEqual([
      'create inboundTrunk main',
      'create dispatchRule main',
    ]);
    expect(plan.deletions).toEqual([]);
  });

  const trunk = desired(BASE).inboundTrunks[0]!.state;
  const rule = desired(BASE).dispatchRules[0]!.state;
  const seeded = () => {
    const api = new FakeSipApi();
    const t = api.seed('inboundTrunk', trunk, markerMetadata({ id: 'main' }));
    api.seed('dispatchRule', { ...rule, trunks: [t] }, markerMetadata({ id: 'main' }));
    return api;
  };

  it.each([
    ['nothing changed', BASE, [], []],
    [
      'a changed field',
      {
        ...BASE,
        inboundTrunks: { main: { numbers: ['+15550100', '+15550111'] } },
        dispatchRules: { main: { ...BASE.dispatchRules.main } },
      },
      ['update inboundTrunk main numbers'],
      [],
    ],
    [
      'a new display name (same id)',
      { ...BASE, inboundTrunks: { main: { name: 'Main line', numbers: ['+15550100'] } } },
      ['update inboundTrunk main name'],
      [],
    ],
    [
      'a renamed entry listing its old id',
      {
        inboundTrunks: { primary: { previousIds: ['main'], numbers: ['+15550100'] } },
        dispatchRules: { main: { ...BASE.dispatchRules.main, trunks: ['primary'] } },
      },
      ['update inboundTrunk primary name'],
      [],
    ],
    [
      'a renamed entry without previousIds',
      {
        inboundTrunks: { primary: { numbers: ['+15550100'] } },
        dispatchRules: { main: { ...BASE.dispatchRules.main, trunks: ['primary'] } },
      },
      ['create inboundTrunk primary', 'update dispatchRule main trunks'],
      ['delete inboundTrunk main'],
    ],
    [
      'a removed rule',
      { inboundTrunks: BASE.inboundTrunks, dispatchRules: {} },
      [],
      ['delete dispatchRule main'],
    ],
  ])('%s', async (_what, config, upserts, deletions) => {
    const plan = planSipConfig(desired(config), await seeded().read());
    expect(
      plan.upserts.map((c) =>
        c.action === 'update'
          ? `update ${c.kind} ${c.id} ${c.fields.map((f) => f.field).join(',')}`
          : `${c.action} ${c.kind} ${c.id}`,
      ),
    ).toEqual(upserts);
    expect(plan.deletions.map((c) => `${c.action} ${c.kind} ${c.id}`)).toEqual(deletions);
  });

  it('shows drift made behind its back field by field', async () => {
    const api = seeded();
    const [t] = (await api.read()).inboundTrunks;
    await api.update(
      'inboundTrunk',
      t!.serverId,
      { ...trunk, allowedNumbers: ['+1999'] },
      markerMetadata({ id: 'main' }),
    );
    const plan = planSipConfig(desired(BASE), await api.read());
    expect(plan.upserts).toEqual([
      expect.objectContaining({
        action: 'update',
        fields: [{ field: 'allowedNumbers', before: ['+1999'], after: [], secret: false }],
      }),
    ]);
  });

  it('never touches an object it did not create, unless told to', async () => {
    const api = new FakeSipApi();
    const manual = api.seed('inboundTrunk', { ...trunk, name: 'main', numbers: ['+15550999'] });
    const plain = planSipConfig(desired(BASE), await api.read());
    expect(plain.upserts.map((c) => c.action)).toEqual(['create', 'create']);
    expect(plain.deletions).toEqual([]);
    expect(plain.unmanaged).toEqual([{ kind: 'inboundTrunk', serverId: manual, name: 'main' }]);
    expect(plain.notes[0]).toMatch(/was not created by sip-dispatch.*apply --adopt/);

    const adopted = planSipConfig(desired(BASE), await api.read(), { adopt: true });
    expect(adopted.upserts[0]).toMatchObject({
      action: 'update',
      serverId: manual,
      retag: { adopt: true },
    });

    const pruneAll = planSipConfig(desired({}), await api.read(), { includeUnmanaged: true });
    expect(pruneAll.deletions).toEqual([
      expect.objectContaining({ action: 'delete', serverId: manual }),
    ]);
  });

  it('compares a password the server does not return through the hash in the marker', async () => {
    const config = {
      ...BASE,
      inboundTrunks: {
        main: { numbers: ['+15550100'], auth: { username: 'u', passwordEnv: 'PW' } },
      },
    };
    const want = desired(config, { PW: 'secret-1' });
    const api = new FakeSipApi();
    await applyPlan(api, planSipConfig(want, await api.read()));
    const hidden = await api.read();
    hidden.inboundTrunks[0]!.state.authPassword = '';
    expect(planSipConfig(want, hidden).upserts).toEqual([]);
    const changed = planSipConfig(desired(config, { PW: 'secret-2' }), hidden);
    expect(changed.upserts[0]).toMatchObject({
      action: 'update',
      fields: [{ field: 'authPassword', secret: true }],
    });
    expect(renderPlan(changed, { color: false }, 'h')).toContain('authPassword: (secret changed)');
    expect(renderPlan(changed, { color: false }, 'h')).not.toContain('secret-2');
    expect(JSON.stringify(maskChange(changed.upserts[0]!))).not.toContain('secret-2');
  });
});

describe('sip-dispatch output', () => {
  it('is plain text without colours when colour is off (CI, NO_COLOR, --json)', async () => {
    const plan = planSipConfig(desired(BASE), await new FakeSipApi().read());
    const out = renderPlan(plan, { color: false }, 'header');
    expect(out).not.toContain('\u001b[');
    expect(out).toContain('+ create inbound trunk main');
    expect(out).toContain('Plan: 2 to create, 0 to update, 0 to delete with prune.');
  });
});

describe('sip-dispatch apply (fake server)', () => {
  it('converges, then a second apply changes nothing', async () => {
    const api = new FakeSipApi();
    const applied = await applyPlan(api, planSipConfig(desired(BASE), await api.read()));
    expect(applied.map((a) => a.change.action)).toEqual(['create', 'create']);
    const state = await api.read();
    expect(state.dispatchRules[0]!.state.trunks).toEqual([state.inboundTrunks[0]!.serverId]);
    expect(state.dispatchRules[0]!.marker).toEqual({ id: 'main' });
    expect(planSipConfig(desired(BASE), state).upserts).toEqual([]);
  });

  it('reports exactly what was applied when a change fails midway, and a re-run converges', async () => {
    const config = {
      ...BASE,
      inboundTrunks: { main: { numbers: ['+15550100'] }, b: { numbers: ['+15550101'] } },
      dispatchRules: { main: { ...BASE.dispatchRules.main, trunks: [] } },
    };
    const api = new FakeSipApi();
    const err = await applyPlan(
      failingAt(api, 2),
      planSipConfig(desired(config), await api.read()),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.applied.map((a) => a.change.id)).toEqual(['main']);
    expect(e.failed).toMatchObject({ change: { id: 'b' }, error: 'injected failure at change 2' });
    expect(e.notAttempted.map((c) => c.id)).toEqual(['main']);
    const again = planSipConfig(desired(config), await api.read());
    expect(again.upserts.map((c) => `${c.action} ${c.id}`)).toEqual(['create b', 'create main']);
    await applyPlan(api, again);
    expect(planSipConfig(desired(config), await api.read()).upserts).toEqual([]);
  });
});

describe('sip-dispatch protocol mapping', () => {
  const inbound = {
    name: 'in',
    numbers: ['+1555'],
    allowedAddresses: ['10.0.0.0/8'],
    allowedNumbers: ['+1666'],
    authUsername: 'u',
    authPassword: 'p',
    authRealm: 'office.example',
    headers: { 'X-Reply': 'r' },
    headersToAttributes: { 'X-A': 'a' },
    attributesToHeaders: { tier: 'X-Tier' },
    includeHeaders: 'x-headers' as const,
    noiseCancellation: true,
    mediaEncryption: 'allow' as const,
    ringingTimeoutMs: 20_000,
    maxCallDurationMs: 600_000,
    mediaTimeoutMs: 15_000,
  };
  const outbound = {
    name: 'out',
    address: 'sip.example.com:5060',
    transport: 'tls' as const,
    numbers: ['+1555'],
    authUsername: 'u',
    authPassword: 'p',
    destinationCountry: 'US',
    fromHost: 'calls.example.com',
    headers: { 'X-B': 'b' },
    headersToAttributes: { 'X-C': 'c' },
    attributesToHeaders: { d: 'X-D' },
    includeHeaders: 'all' as const,
    mediaEncryption: 'require' as const,
  };
  const rule = (type: 'individual' | 'direct' | 'callee') => ({
    name: 'r',
    type,
    roomPrefix: type === 'direct' ? '' : 'p-',
    roomName: type === 'direct' ? 'room' : '',
    randomize: type === 'callee',
    pin: '1234',
    trunks: ['ST_1'],
    calledNumbers: ['+1555'],
    callerNumbers: ['+1666'],
    attributes: { a: 'b' },
    hidePhoneNumber: true,
    noiseCancellation: true,
    mediaEncryption: 'allow' as const,
    roomEmptyTimeoutMs: 30_000,
    roomDepartureTimeoutMs: 10_000,
    roomMaxParticipants: 4,
    roomMetadata: '{"line":"r"}',
    agents: [{ name: 'switchboard', metadata: '{"x":1}', attributes: { role: 'agent' } }],
  });
  it.each([
    [
      'inbound trunk',
      () =>
        inboundFromJson(
          SIPInboundTrunkInfo.fromJson(
            toJson('inboundTrunk', inbound, 'm') as never,
          ).toJson() as never,
        ),
      inbound,
    ],
    [
      'inbound trunk with the server default durations',
      () =>
        inboundFromJson(
          SIPInboundTrunkInfo.fromJson(
            toJson(
              'inboundTrunk',
              { ...inbound, ringingTimeoutMs: 0, maxCallDurationMs: 0, mediaTimeoutMs: 0 },
              'm',
            ) as never,
          ).toJson() as never,
        ),
      { ...inbound, ringingTimeoutMs: 0, maxCallDurationMs: 0, mediaTimeoutMs: 0 },
    ],
    [
      'outbound trunk',
      () =>
        outboundFromJson(
          SIPOutboundTrunkInfo.fromJson(
            toJson('outboundTrunk', outbound, 'm') as never,
          ).toJson() as never,
        ),
      outbound,
    ],
    ...(['individual', 'direct', 'callee'] as const).map(
      (t) =>
        [
          `${t} rule`,
          () =>
            ruleFromJson(
              SIPDispatchRuleInfo.fromJson(
                toJson('dispatchRule', rule(t), 'm') as never,
              ).toJson() as never,
            ),
          rule(t),
        ] as [string, () => unknown, unknown],
    ),
  ])('%s survives the protocol round trip', (_what, roundTrip, state) => {
    expect(roundTrip()).toEqual(state);
  });

  it.each([
    [undefined, 0],
    [1000, 1],
    [600_000, 600],
  ])('%s ms is %s s for the SIP API', (ms, s) => {
    expect(msToSeconds(ms)).toBe(s);
  });
  it('refuses a duration that is not whole seconds', () => {
    expect(() => msToSeconds(1500)).toThrow(/not a whole number of seconds/);
  });

  it.each([
    [markerMetadata({ id: 'a' }), { id: 'a' }],
    [markerMetadata({ id: 'a', secretHash: 'h' }), { id: 'a', secretHash: 'h' }],
    ['{"managedBy":"someone-else","id":"a"}', undefined],
    ['not json', undefined],
    ['', undefined],
  ])('marker %j parses as %j', (metadata, marker) => {
    expect(parseMarker(metadata)).toEqual(marker);
  });
});

describe('sip-dispatch export', () => {
  it('turns the server state into a config that plans no changes once adopted', async () => {
    const api = new FakeSipApi();
    const t = api.seed('inboundTrunk', {
      ...desired(BASE).inboundTrunks[0]!.state,
      name: 'Main Line',
      authUsername: 'u',
      authPassword: 'pw',
    });
    api.seed('dispatchRule', {
      ...desired(BASE).dispatchRules[0]!.state,
      name: 'Main Rule',
      trunks: [t],
    });
    const exported = exportSipConfig(await api.read());
    expect(exported.secrets).toEqual(['SIP_MAIN_LINE_PASSWORD']);
    expect(JSON.stringify(exported)).not.toContain('pw');
    const { config, problems } = check(exported.config, undefined);
    expect(problems).toEqual([]);
    const want = desiredState(config!, () => 'pw');
    const plan = planSipConfig(want, await api.read(), { adopt: true });
    expect(plan.upserts.map((c) => (c.action === 'update' ? c.fields.length : -1))).toEqual([0, 0]);
  });
});

describe('sip-dispatch CLI', () => {
  const run = async (
    argv: string[],
    api = new FakeSipApi(),
    secrets: Record<string, string> = {},
  ) => {
    const out: string[] = [];
    const err: string[] = [];
    const deps: CliDeps = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      color: false,
      secret: (n) => secrets[n],
      connect: () => api,
      serverLabel: 'fake',
    };
    return { code: await runSipCommand(argv, deps), out: out.join('\n'), err: err.join('\n') };
  };

  it.each([
    [['validate'], EXIT.ok],
    [['plan'], EXIT.changesPending],
    [['frobnicate'], EXIT.invalid],
    [['plan', '--env', 'nowhere'], EXIT.invalid],
    [['plan', '--config', '/nonexistent.yaml'], EXIT.invalid],
  ])('%j exits %i', async (argv, code) => {
    expect((await run(argv)).code).toBe(code);
  });

  it('apply, then plan reports no changes (exit 0)', async () => {
    const api = new FakeSipApi();
    expect((await run(['apply'], api)).code).toBe(EXIT.ok);
    const plan = await run(['plan', '--json'], api);
    expect(plan.code).toBe(EXIT.ok);
    expect(JSON.parse(plan.out)).toMatchObject({
      changes: false,
      unchanged: [{ id: 'demo' }, { id: 'demo' }],
    });
  });

  it('names a missing secret and applies nothing', async () => {
    const api = new FakeSipApi();
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/sb-sip-unit-');
    await writeFile(
      `${dir}/c.yaml`,
      text({
        ...BASE,
        inboundTrunks: {
          main: { numbers: ['+15550100'], auth: { username: 'u', passwordEnv: 'SIP_PW' } },
        },
      }),
    );
    const r = await run(['apply', '--config', `${dir}/c.yaml`], api);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toContain('SIP_PW (the password of inboundTrunks.main.auth)');
    expect(api.calls).toEqual([]);
  });
});
