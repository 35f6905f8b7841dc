/**
 * Provisioning never destroys what it does not model, on the real local server: a trunk and a rule
 * carrying fields set outside sip-dispatch (through the server API, as the console or `lk` sets
 * them) keep them across apply of a changed field, apply --adopt, and export → apply; plan reports
 * them. Every assertion reads the objects back from the server. Only this file's objects are
 * touched (deleted by ID at the end), so whatever else the shared stack holds stays.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RoomAgentDispatch,
  RoomConfiguration,
  SIPInboundTrunkInfo,
  type SIPDispatchRuleInfo,
} from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT, LivekitSipApi, parseMarker, runSipCommand } from '../../sip-dispatch/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { httpUrl, sipClient } from '../support/stack-env.js';

const api = new LivekitSipApi({ url: httpUrl, apiKey: LOCAL_API_KEY, apiSecret: LOCAL_API_SECRET });
let dir: string;
let fileNo = 0;
/** Server IDs this file created, deleted at the end. */
const created = { trunks: new Set<string>(), rules: new Set<string>() };

async function sip(argv: string[], config: object, secrets: Record<string, string> = {}) {
  const file = join(dir, `unmodelled-${fileNo++}.yaml`);
  await writeFile(file, stringify(config));
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSipCommand([...argv, '--config', file], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    color: false,
    secret: (name) => secrets[name],
    connect: () => api,
    serverLabel: httpUrl,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface PlanOut {
  upserts: { action: string; id: string; serverId?: string; fields: { field: string }[] }[];
  undescribed: { kind: string; id: string; serverId: string; fields: string[] }[];
}

const TRUNK = 'e2e unmodelled office';
const RULE = 'e2e unmodelled sales';
const config = (numbers: string[], attributes: Record<string, string> = {}) => ({
  inboundTrunks: {
    'um-office': { name: TRUNK, numbers, allowedAddresses: ['10.77.0.0/24'] },
  },
  dispatchRules: {
    'um-sales': {
      name: RULE,
      type: 'individual',
      roomPrefix: 'e2e-um-',
      trunks: ['um-office'],
      attributes,
      agents: [{ name: 'switchboard', metadata: { silenceTimeoutMs: 10_000 } }],
    },
  },
});
const BASE = config(['+15550181']);

/** What the console or `lk` set: codecs on the trunk; room tags, synced streams and a deployment on the rule. */
const codecs = () =>
  SIPInboundTrunkInfo.fromJson({
    media: { codecs: [{ name: 'PCMU', rate: 8000 }], onlyListedCodecs: true },
  }).media!;
function setOutside(trunk: SIPInboundTrunkInfo, rule: SIPDispatchRuleInfo) {
  trunk.media = codecs();
  const room = rule.roomConfig ?? new RoomConfiguration();
  room.syncStreams = true;
  room.tags = { team: 'sales' };
  const agent = room.agents[0] ?? new RoomAgentDispatch({ agentName: 'switchboard' });
  agent.deployment = 'staging';
  room.agents = [agent];
  rule.roomConfig = room;
}
const TRUNK_FIELDS = ['media.codecs[0].name', 'media.codecs[0].rate', 'media.onlyListedCodecs'];
const RULE_FIELDS = [
  'roomConfig.agents[0].deployment',
  'roomConfig.syncStreams',
  'roomConfig.tags.team',
];

/** This file's trunk and rule as the server has them, found by name. */
async function onServer() {
  const trunks = (await sipClient().listSipInboundTrunk()).filter((t) => t.name === TRUNK);
  const rules = (await sipClient().listSipDispatchRule()).filter((r) => r.name === RULE);
  expect(trunks).toHaveLength(1);
  expect(rules).toHaveLength(1);
  created.trunks.add(trunks[0]!.sipTrunkId);
  created.rules.add(rules[0]!.sipDispatchRuleId);
  return { trunk: trunks[0]!, rule: rules[0]! };
}

/** The outside fields are on the server object, unchanged. */
function expectOutsideFields(trunk: SIPInboundTrunkInfo, rule: SIPDispatchRuleInfo) {
  expect(trunk.media?.codecs.map((c) => [c.name, c.rate])).toEqual([['PCMU', 8000]]);
  expect(trunk.media?.onlyListedCodecs).toBe(true);
  expect(rule.roomConfig?.syncStreams).toBe(true);
  expect(rule.roomConfig?.tags).toEqual({ team: 'sales' });
  expect(rule.roomConfig?.agents.map((a) => [a.agentName, a.metadata, a.deployment])).toEqual([
    ['switchboard', '{"silenceTimeoutMs":10000}', 'staging'],
  ]);
}

async function deleteCreated() {
  for (const id of created.rules)
    await sipClient()
      .deleteSipDispatchRule(id)
      .catch(() => undefined);
  for (const id of created.trunks)
    await sipClient()
      .deleteSipTrunk(id)
      .catch(() => undefined);
  created.rules.clear();
  created.trunks.clear();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-sip-unmodelled-'));
  const left = [
    ...(await sipClient().listSipInboundTrunk()).filter((t) => t.name === TRUNK),
    ...(await sipClient().listSipDispatchRule()).filter((r) => r.name === RULE),
  ];
  expect(left).toEqual([]);
});

afterAll(async () => {
  await deleteCreated();
});

describe('fields set outside sip-dispatch survive it', () => {
  it('apply of a changed field keeps them; plan reports them and proposes no change for them', async () => {
    const first = await sip(['apply'], BASE);
    expect(first.code, first.err).toBe(EXIT.ok);
    const { trunk, rule } = await onServer();
    setOutside(trunk, rule);
    await sipClient().updateSipInboundTrunk(trunk.sipTrunkId, trunk);
    await sipClient().updateSipDispatchRule(rule.sipDispatchRuleId, rule);
    expectOutsideFields((await onServer()).trunk, (await onServer()).rule);

    const plan = await sip(['plan', '--json'], BASE);
    const p = JSON.parse(plan.out) as PlanOut;
    expect(p.upserts.filter((c) => c.id.startsWith('um-'))).toEqual([]);
    expect(p.undescribed.filter((u) => u.id.startsWith('um-'))).toEqual([
      { kind: 'inboundTrunk', id: 'um-office', serverId: trunk.sipTrunkId, fields: TRUNK_FIELDS },
      {
        kind: 'dispatchRule',
        id: 'um-sales',
        serverId: rule.sipDispatchRuleId,
        fields: RULE_FIELDS,
      },
    ]);
    const text = await sip(['plan'], BASE);
    expect(text.out).toContain(
      `inbound trunk um-office (${trunk.sipTrunkId}) has fields the config does not describe, kept as they are by apply: ${TRUNK_FIELDS.join(', ')}`,
    );

    const changed = config(['+15550181', '+15550182'], { department: 'sales' });
    const applied = await sip(['apply'], changed);
    expect(applied.code, applied.err).toBe(EXIT.ok);
    expect(applied.out).toContain(
      `update inbound trunk um-office "${TRUNK}" (${trunk.sipTrunkId})`,
    );
    const after = await onServer();
    expect(after.trunk.sipTrunkId).toBe(trunk.sipTrunkId);
    expect(after.trunk.numbers).toEqual(['+15550181', '+15550182']);
    expect(after.rule.attributes).toEqual({ department: 'sales' });
    expectOutsideFields(after.trunk, after.rule);
    const settled = JSON.parse((await sip(['plan', '--json'], changed)).out) as PlanOut;
    expect(settled.upserts.filter((c) => c.id.startsWith('um-'))).toEqual([]);
  });

  it('export keeps them as serverFields; export → apply onto a fresh server object recreates them', async () => {
    const { trunk, rule } = await onServer();
    const exported = await sip(['export', '--json'], {});
    expect(exported.code, exported.err).toBe(EXIT.ok);
    const all = JSON.parse(exported.out) as {
      config: Record<string, Record<string, Record<string, unknown>>>;
    };
    const mine = {
      inboundTrunks: { 'um-office': all.config.inboundTrunks!['um-office']! },
      dispatchRules: { 'um-sales': all.config.dispatchRules!['um-sales']! },
    };
    expect(mine.inboundTrunks['um-office']).toMatchObject({
      name: TRUNK,
      serverFields: { media: { codecs: [{ name: 'PCMU', rate: 8000 }], onlyListedCodecs: true } },
    });
    expect(mine.dispatchRules['um-sales']).toMatchObject({
      trunks: ['um-office'],
      serverFields: {
        roomConfig: {
          syncStreams: true,
          tags: { team: 'sales' },
          agents: [{ deployment: 'staging' }],
        },
      },
    });
    // The export applies as it is: nothing to change, nothing undescribed.
    const again = JSON.parse((await sip(['plan', '--json'], mine)).out) as PlanOut;
    expect(again.upserts.filter((c) => c.id.startsWith('um-'))).toEqual([]);
    expect(again.undescribed.filter((u) => u.id.startsWith('um-'))).toEqual([]);

    // Onto a server that lost them: the objects are created again, with the fields.
    await sipClient().deleteSipDispatchRule(rule.sipDispatchRuleId);
    await sipClient().deleteSipTrunk(trunk.sipTrunkId);
    created.rules.clear();
    created.trunks.clear();
    const applied = await sip(['apply'], mine);
    expect(applied.code, applied.err).toBe(EXIT.ok);
    const recreated = await onServer();
    expect(recreated.trunk.sipTrunkId).not.toBe(trunk.sipTrunkId);
    expect(parseMarker(recreated.trunk.metadata)?.id).toBe('um-office');
    expect(recreated.rule.trunkIds).toEqual([recreated.trunk.sipTrunkId]);
    expectOutsideFields(recreated.trunk, recreated.rule);
    await deleteCreated();
  });

  it('apply --adopt takes over objects made by hand and keeps their fields', async () => {
    const trunk = await sipClient().createSipInboundTrunk(TRUNK, ['+15550181'], {
      allowedAddresses: ['10.77.0.0/24'],
      media: codecs(),
    });
    created.trunks.add(trunk.sipTrunkId);
    const rule = await sipClient().createSipDispatchRule(
      { type: 'individual', roomPrefix: 'e2e-um-' },
      {
        name: RULE,
        trunkIds: [trunk.sipTrunkId],
        roomConfig: new RoomConfiguration({
          syncStreams: true,
          tags: { team: 'sales' },
          agents: [
            new RoomAgentDispatch({
              agentName: 'switchboard',
              metadata: '{"silenceTimeoutMs":10000}',
              deployment: 'staging',
            }),
          ],
        }),
      },
    );
    created.rules.add(rule.sipDispatchRuleId);

    const plan = JSON.parse((await sip(['plan', '--json', '--adopt'], BASE)).out) as PlanOut;
    expect(
      plan.upserts.filter((c) => c.id.startsWith('um-')).map((c) => [c.action, c.serverId]),
    ).toEqual([
      ['update', trunk.sipTrunkId],
      ['update', rule.sipDispatchRuleId],
    ]);
    const adopted = await sip(['apply', '--adopt'], BASE);
    expect(adopted.code, adopted.err).toBe(EXIT.ok);
    const after = await onServer();
    expect(after.trunk.sipTrunkId).toBe(trunk.sipTrunkId);
    expect(after.rule.sipDispatchRuleId).toBe(rule.sipDispatchRuleId);
    expect(parseMarker(after.trunk.metadata)?.id).toBe('um-office');
    expect(parseMarker(after.rule.metadata)?.id).toBe('um-sales');
    expectOutsideFields(after.trunk, after.rule);
  });
});

describe('the fields sip-dispatch models now', () => {
  const FULL = {
    inboundTrunks: {
      'um-full': {
        name: 'e2e modelled office',
        numbers: ['+15550185'],
        allowedAddresses: ['10.77.0.0/24', '2001:db8::/32'],
        auth: { username: 'office', passwordEnv: 'SB_E2E_UM_PASSWORD', realm: 'office.example' },
        headers: { 'X-Served-By': 'switchboard' },
        headersToAttributes: { 'X-Customer-Tier': 'customer.tier' },
        attributesToHeaders: { 'customer.tier': 'X-Customer-Tier' },
        noiseCancellation: true,
        mediaEncryption: 'allow',
        mediaTimeoutMs: 15_000,
      },
    },
    outboundTrunks: {
      'um-full': {
        name: 'e2e modelled carrier',
        address: 'sip.carrier.invalid',
        numbers: ['+15550186'],
        destinationCountry: 'US',
        fromHost: 'calls.example.com',
        headersToAttributes: { 'X-Carrier-Id': 'carrier.id' },
        attributesToHeaders: { 'customer.tier': 'X-Customer-Tier' },
        includeHeaders: 'all',
        mediaEncryption: 'require',
      },
    },
    dispatchRules: {
      'um-full': {
        name: 'e2e modelled rule',
        type: 'individual',
        roomPrefix: 'e2e-um-full-',
        pinEnv: 'SB_E2E_UM_PIN',
        trunks: ['um-full'],
        noiseCancellation: true,
        mediaEncryption: 'allow',
        room: {
          emptyTimeoutMs: 30_000,
          departureTimeoutMs: 5_000,
          maxParticipants: 3,
          metadata: 'line',
        },
        agents: [{ name: 'switchboard', attributes: { role: 'desk' } }],
      },
    },
  };
  const secrets = { SB_E2E_UM_PASSWORD: 'um-password', SB_E2E_UM_PIN: '8642' };
  const run = (argv: string[]) => sip(argv, FULL, secrets);

  it('reach the server in one create, and a second plan has no changes', async () => {
    const applied = await run(['apply']);
    expect(applied.code, applied.err).toBe(EXIT.ok);
    expect(applied.out).not.toMatch(/um-password|8642/);
    const [trunk] = (await sipClient().listSipInboundTrunk()).filter(
      (t) => t.name === 'e2e modelled office',
    );
    const [out] = (await sipClient().listSipOutboundTrunk()).filter(
      (t) => t.name === 'e2e modelled carrier',
    );
    const [rule] = (await sipClient().listSipDispatchRule()).filter(
      (r) => r.name === 'e2e modelled rule',
    );
    created.trunks.add(trunk!.sipTrunkId).add(out!.sipTrunkId);
    created.rules.add(rule!.sipDispatchRuleId);
    expect(trunk).toMatchObject({
      authRealm: 'office.example',
      headers: { 'X-Served-By': 'switchboard' },
      attributesToHeaders: { 'customer.tier': 'X-Customer-Tier' },
      krispEnabled: true,
      mediaEncryption: 1,
    });
    expect(trunk!.media?.mediaTimeout?.seconds).toBe(15n);
    expect(out).toMatchObject({
      destinationCountry: 'US',
      fromHost: 'calls.example.com',
      headersToAttributes: { 'X-Carrier-Id': 'carrier.id' },
      attributesToHeaders: { 'customer.tier': 'X-Customer-Tier' },
      includeHeaders: 2,
      mediaEncryption: 2,
    });
    expect(rule).toMatchObject({
      krispEnabled: true,
      mediaEncryption: 1,
      trunkIds: [trunk!.sipTrunkId],
    });
    expect(rule!.rule?.rule.value).toMatchObject({ roomPrefix: 'e2e-um-full-', pin: '8642' });
    expect(rule!.roomConfig).toMatchObject({
      emptyTimeout: 30,
      departureTimeout: 5,
      maxParticipants: 3,
      metadata: 'line',
    });
    expect(rule!.roomConfig?.agents.map((a) => [a.agentName, a.attributes])).toEqual([
      ['switchboard', { role: 'desk' }],
    ]);
    const plan = JSON.parse((await run(['plan', '--json'])).out) as PlanOut;
    expect(plan.upserts.filter((c) => c.id === 'um-full')).toEqual([]);
    expect(plan.undescribed.filter((u) => u.id === 'um-full')).toEqual([]);
    await deleteCreated();
  });
});
