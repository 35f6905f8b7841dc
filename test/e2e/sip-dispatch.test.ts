/**
 * sip-dispatch against the real local server: from scratch to applied, idempotent re-apply, an
 * update in place, a renamed entry, drift, prune, invalid configs rejected with nothing applied,
 * a server-side refusal, and a failure injected midway followed by convergence.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  EXIT,
  LivekitSipApi,
  parseMarker,
  runSipCommand,
  type SipApi,
} from '../../sip-dispatch/index.js';
import { failingAt } from '../../sip-dispatch/sip-api.fake.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { httpUrl, sipClient } from '../support/stack-env.js';

const api = new LivekitSipApi({ url: httpUrl, apiKey: LOCAL_API_KEY, apiSecret: LOCAL_API_SECRET });
const SECRETS: Record<string, string> = { SB_E2E_TRUNK_PASSWORD: 'e2e-password-1' };
let dir: string;
let fileNo = 0;

async function sip(
  argv: string[],
  config: object,
  with_: { api?: SipApi; secrets?: Record<string, string> } = {},
) {
  const file = join(dir, `config-${fileNo++}.yaml`);
  await writeFile(file, stringify(config));
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSipCommand([...argv, '--config', file], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    color: false,
    secret: (n) => (with_.secrets ?? SECRETS)[n],
    connect: () => with_.api ?? api,
    serverLabel: httpUrl,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface ChangeOut {
  action: string;
  id: string;
  serverId?: string;
  fields: { field: string }[];
}
interface PlanOut {
  upserts: ChangeOut[];
  deletions: ChangeOut[];
  unchanged: ChangeOut[];
  unmanaged: { serverId: string }[];
}
interface ApplyErrorOut {
  error: string;
  applied: ChangeOut[];
  failed: ChangeOut & { error: string };
  notAttempted: ChangeOut[];
}

const planJson = async (config: object) => {
  const r = await sip(['plan', '--json'], config);
  return { code: r.code, plan: JSON.parse(r.out) as PlanOut };
};

/** Every object the server has, with its marker id (undefined: not made by sip-dispatch). */
async function serverObjects() {
  const s = await api.read();
  return [...s.inboundTrunks, ...s.outboundTrunks, ...s.dispatchRules].map((o) => ({
    kind: o.kind,
    serverId: o.serverId,
    id: o.marker?.id,
    name: o.state.name,
  }));
}

const CONFIG = {
  inboundTrunks: {
    office: {
      name: 'e2e office',
      numbers: ['+15550161', '+15550162'],
      allowedAddresses: ['10.77.0.0/24'],
      auth: { username: 'office', passwordEnv: 'SB_E2E_TRUNK_PASSWORD' },
      headersToAttributes: { 'X-Customer-Tier': 'customer.tier' },
      includeHeaders: 'x-headers',
      ringingTimeoutMs: 20_000,
      maxCallDurationMs: 600_000,
    },
  },
  outboundTrunks: {
    carrier: {
      name: 'e2e carrier',
      address: 'sip.carrier.invalid:5060',
      transport: 'tcp',
      numbers: ['+15550169'],
      auth: { username: 'out', passwordEnv: 'SB_E2E_TRUNK_PASSWORD' },
    },
  },
  dispatchRules: {
    sales: {
      type: 'individual',
      roomPrefix: 'e2e-sales-',
      trunks: ['office'],
      calledNumbers: ['+15550161'],
      callerNumbers: ['+15557650161'],
      attributes: { department: 'sales' },
      agents: [{ name: 'switchboard', metadata: { silenceTimeoutMs: 10_000 } }],
    },
    support: {
      type: 'direct',
      roomName: 'e2e-support',
      pin: '2468',
      trunks: ['office'],
      calledNumbers: ['+15550162'],
      hidePhoneNumber: true,
    },
  },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-sip-dispatch-'));
  expect((await serverObjects()).filter((o) => o.id !== undefined)).toEqual([]);
});

afterAll(async () => {
  await sip(['prune', '--confirm-destroy'], {});
  expect((await serverObjects()).filter((o) => o.id !== undefined)).toEqual([]);
});

describe('sip-dispatch on the local server', () => {
  let ids: Record<string, string> = {};

  it('applies a config from scratch: every field reaches the server in one create, marked', async () => {
    expect((await sip(['plan'], CONFIG)).code).toBe(EXIT.changesPending);
    const applied = await sip(['apply'], CONFIG);
    expect(applied.code, applied.err).toBe(EXIT.ok);
    expect(applied.out).toMatch(/Applied 4 change\(s\)/);
    expect(applied.out).not.toContain('e2e-password-1');

    const [trunk] = await sipClient().listSipInboundTrunk();
    expect(trunk).toMatchObject({
      name: 'e2e office',
      numbers: ['+15550161', '+15550162'],
      allowedAddresses: ['10.77.0.0/24'],
      authUsername: 'office',
      authPassword: 'e2e-password-1',
      headersToAttributes: { 'X-Customer-Tier': 'customer.tier' },
      includeHeaders: 1,
    });
    expect(trunk!.maxCallDuration?.seconds).toBe(600n);
    expect(trunk!.ringingTimeout?.seconds).toBe(20n);
    expect(parseMarker(trunk!.metadata)?.id).toBe('office');
    const [outbound] = await sipClient().listSipOutboundTrunk();
    expect(outbound).toMatchObject({
      address: 'sip.carrier.invalid:5060',
      transport: 2,
      numbers: ['+15550169'],
    });
    const rules = await sipClient().listSipDispatchRule();
    const sales = rules.find((r) => parseMarker(r.metadata)?.id === 'sales')!;
    // Called and caller numbers set at creation (the SDK's createSipDispatchRule cannot).
    expect(sales).toMatchObject({
      trunkIds: [trunk!.sipTrunkId],
      numbers: ['+15550161'],
      inboundNumbers: ['+15557650161'],
      attributes: { department: 'sales' },
    });
    expect(sales.roomConfig?.agents.map((a) => [a.agentName, a.metadata])).toEqual([
      ['switchboard', '{"silenceTimeoutMs":10000}'],
    ]);
    const support = rules.find((r) => parseMarker(r.metadata)?.id === 'support')!;
    expect(support.rule?.rule).toEqual({
      case: 'dispatchRuleDirect',
      value: expect.objectContaining({ roomName: 'e2e-support', pin: '2468' }),
    });
    expect(support.hidePhoneNumber).toBe(true);
    ids = Object.fromEntries((await serverObjects()).map((o) => [o.id!, o.serverId]));
  });

  it('a second apply reports no changes and plan exits 0', async () => {
    const again = await sip(['apply'], CONFIG);
    expect(again.code).toBe(EXIT.ok);
    expect(again.out).toContain('No changes');
    const { code, plan } = await planJson(CONFIG);
    expect(code).toBe(EXIT.ok);
    expect(plan.unchanged).toHaveLength(4);
  });

  it('a changed field is an update of the same object, shown field by field', async () => {
    const changed = structuredClone(CONFIG);
    changed.inboundTrunks.office.numbers = ['+15550161', '+15550162', '+15550163'];
    changed.dispatchRules.sales.calledNumbers = ['+15550161', '+15550163'];
    const { code, plan } = await planJson(changed);
    expect(code).toBe(EXIT.changesPending);
    expect(plan.upserts.map((c) => [c.action, c.id, c.fields.map((f) => f.field)])).toEqual([
      ['update', 'office', ['numbers']],
      ['update', 'sales', ['calledNumbers']],
    ]);
    expect((await sip(['apply'], changed)).code).toBe(EXIT.ok);
    const rule = (await sipClient().listSipDispatchRule({ dispatchRuleIds: [ids.sales!] }))[0];
    expect(rule?.numbers).toEqual(['+15550161', '+15550163']);
    expect(rule?.sipDispatchRuleId).toBe(ids.sales);
    expect((await planJson(changed)).code).toBe(EXIT.ok);
    expect((await sip(['apply'], CONFIG)).code).toBe(EXIT.ok);
  });

  it('a renamed entry keeps its object (previousIds); the marker moves to the new id', async () => {
    const renamed = {
      ...CONFIG,
      inboundTrunks: { headquarters: { ...CONFIG.inboundTrunks.office, previousIds: ['office'] } },
      dispatchRules: {
        sales: { ...CONFIG.dispatchRules.sales, trunks: ['headquarters'] },
        support: { ...CONFIG.dispatchRules.support, trunks: ['headquarters'] },
      },
    };
    const { plan } = await planJson(renamed);
    expect(plan.upserts).toEqual([
      expect.objectContaining({
        action: 'update',
        id: 'headquarters',
        serverId: ids.office,
        retag: { from: 'office' },
      }),
    ]);
    expect((await sip(['apply'], renamed)).code).toBe(EXIT.ok);
    const objects = await serverObjects();
    expect(objects.find((o) => o.serverId === ids.office)?.id).toBe('headquarters');
    expect(objects).toHaveLength(4);
    expect((await planJson(renamed)).code).toBe(EXIT.ok);
    // Back to the original, for the tests below.
    const back = {
      ...CONFIG,
      inboundTrunks: { office: { ...CONFIG.inboundTrunks.office, previousIds: ['headquarters'] } },
    };
    expect((await sip(['apply'], back)).code).toBe(EXIT.ok);
    expect((await planJson(CONFIG)).code).toBe(EXIT.ok);
  });

  it('drift made behind its back is shown by plan and corrected by apply', async () => {
    await sipClient().updateSipInboundTrunkFields(ids.office!, {
      name: 'renamed by hand',
      authPassword: 'changed-by-hand',
    });
    const r = await sip(['plan'], CONFIG);
    expect(r.code).toBe(EXIT.changesPending);
    expect(r.out).toContain('name: "renamed by hand" → "e2e office"');
    expect(r.out).toContain('authPassword: (secret changed)');
    expect(r.out).not.toContain('changed-by-hand');
    expect(r.out).not.toContain('e2e-password-1');
    expect((await sip(['apply'], CONFIG)).code).toBe(EXIT.ok);
    const [trunk] = await sipClient().listSipInboundTrunk({ trunkIds: [ids.office!] });
    expect(trunk).toMatchObject({ name: 'e2e office', authPassword: 'e2e-password-1' });
    expect((await planJson(CONFIG)).code).toBe(EXIT.ok);
  });

  it('prune deletes only what it manages and the config no longer has; manual objects stay', async () => {
    const manual = await sipClient().createSipInboundTrunk('e2e manual', ['+15550168']);
    try {
      const smaller = {
        ...CONFIG,
        inboundTrunks: { office: { ...CONFIG.inboundTrunks.office, numbers: ['+15550161'] } },
        dispatchRules: { sales: CONFIG.dispatchRules.sales },
      };
      const applied = await sip(['apply'], smaller);
      expect(applied.code, applied.err).toBe(EXIT.ok);
      expect(applied.out).toContain('1 object(s) sip-dispatch created are no longer in the config');
      expect((await serverObjects()).map((o) => o.serverId)).toContain(ids.support);
      const { plan } = await planJson(smaller);
      expect(plan.deletions).toEqual([
        expect.objectContaining({ id: 'support', serverId: ids.support }),
      ]);
      expect(plan.unmanaged).toEqual([expect.objectContaining({ serverId: manual.sipTrunkId })]);

      const pruned = await sip(['prune'], smaller);
      expect(pruned.code).toBe(EXIT.ok);
      const after = (await serverObjects()).map((o) => o.serverId);
      expect(after).not.toContain(ids.support);
      expect(after).toContain(manual.sipTrunkId);
      expect((await planJson(smaller)).code).toBe(EXIT.ok);
    } finally {
      await sipClient().deleteSipTrunk(manual.sipTrunkId);
    }
    expect((await sip(['apply'], CONFIG)).code).toBe(EXIT.ok);
  });

  it.each([
    [
      'two default trunks',
      { inboundTrunks: { a: {}, b: {} }, dispatchRules: { r: { type: 'individual' } } },
      /both default trunks/,
    ],
    [
      'rules clashing on trunk + number + PIN',
      {
        inboundTrunks: { a: { numbers: ['+15550164'] } },
        dispatchRules: {
          r1: { type: 'individual', trunks: ['a'], pin: '1' },
          r2: { type: 'callee', trunks: ['a'], pin: '1' },
        },
      },
      /rules "r1" and "r2" both match trunk "a"/,
    ],
    [
      'a rule naming an unknown trunk',
      {
        inboundTrunks: { a: { numbers: ['+15550164'] } },
        dispatchRules: { r: { type: 'individual', trunks: ['b'] } },
      },
      /trunk "b" is not defined in inboundTrunks/,
    ],
    [
      'a number on two trunks',
      {
        inboundTrunks: { a: { numbers: ['+15550164'] }, b: { numbers: ['+15550164'] } },
        dispatchRules: { r: { type: 'individual' } },
      },
      /\+15550164 is on two trunks/,
    ],
    [
      'an inbound number matched by no rule',
      {
        inboundTrunks: { a: { numbers: ['+15550164'] } },
        dispatchRules: { r: { type: 'individual', trunks: ['a'], calledNumbers: ['+15550165'] } },
      },
      /calls to \+15550164 on trunk "a" match no dispatch rule/,
    ],
    [
      'an impossible CIDR',
      {
        inboundTrunks: { a: { numbers: ['+15550164'], allowedAddresses: ['10.0.0.0/33'] } },
        dispatchRules: { r: { type: 'individual', trunks: ['a'] } },
      },
      /inboundTrunks\.a\.allowedAddresses\[0\]: "10\.0\.0\.0\/33" has prefix length \/33/,
    ],
    [
      'a typo in the agent options',
      {
        inboundTrunks: { a: { numbers: ['+15550164'] } },
        dispatchRules: {
          r: {
            type: 'individual',
            trunks: ['a'],
            agents: [{ name: 'switchboard', metadata: { maxCallDurationMS: 60_000 } }],
          },
        },
      },
      /dispatchRules\.r\.agents\[0\]\.metadata\.maxCallDurationMS: .*did you mean "maxCallDurationMs"/,
    ],
    ['an empty file', {}, /no trunks and no dispatch rules/],
  ])('rejects %s with its message and applies nothing', async (_what, config, message) => {
    const before = await serverObjects();
    const r = await sip(['apply'], config);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/fix: /);
    expect(r.err).toContain('nothing was applied');
    expect(await serverObjects()).toEqual(before);
  });

  it('reports the server refusing a change, with what was applied before it', async () => {
    const blocker = await sipClient().createSipInboundTrunk('e2e blocker', ['+15550166']);
    try {
      const config = {
        ...CONFIG,
        inboundTrunks: { ...CONFIG.inboundTrunks, other: { numbers: ['+15550166'] } },
        dispatchRules: {
          ...CONFIG.dispatchRules,
          other: { type: 'individual', trunks: ['other'] },
        },
      };
      const r = await sip(['apply'], config);
      expect(r.code).toBe(EXIT.error);
      expect(r.err).toMatch(/Conflicting inbound SIP Trunks/);
      expect(r.err).toMatch(
        /applied:\n {2}\(nothing\)\nfailed:\n {2}\+ create inbound trunk other/,
      );
      expect(r.err).toContain('+ create dispatch rule other');
    } finally {
      await sipClient().deleteSipTrunk(blocker.sipTrunkId);
    }
  });

  it('a failure injected midway reports exactly what was applied; a re-run converges', async () => {
    const unconfirmed = await sip(['prune'], {});
    expect(unconfirmed.code).toBe(EXIT.invalid);
    expect(unconfirmed.err).toMatch(/no trunks and no dispatch rules/);
    expect((await serverObjects()).map((o) => o.id).sort()).toEqual([
      'carrier',
      'office',
      'sales',
      'support',
    ]);
    expect((await sip(['prune', '--confirm-destroy'], {})).code).toBe(EXIT.ok);
    expect(await serverObjects()).toEqual([]);
    // Third change fails: the two trunks exist, the rules do not.
    const failed = await sip(['apply', '--json'], CONFIG, { api: failingAt(api, 3) });
    expect(failed.code).toBe(EXIT.error);
    const report = JSON.parse(failed.out) as ApplyErrorOut;
    expect(report.error).toBe('sip_apply_failed');
    expect(report.applied.map((a) => [a.action, a.id])).toEqual([
      ['create', 'office'],
      ['create', 'carrier'],
    ]);
    expect(report.failed).toMatchObject({
      action: 'create',
      id: 'sales',
      error: 'injected failure at change 3',
    });
    expect(report.notAttempted.map((c) => c.id)).toEqual(['support']);
    expect(JSON.stringify(report)).not.toContain('e2e-password-1');
    expect((await serverObjects()).map((o) => o.id).sort()).toEqual(['carrier', 'office']);

    const rerun = await sip(['apply'], CONFIG);
    expect(rerun.code).toBe(EXIT.ok);
    expect(rerun.out).toMatch(/Applied 2 change\(s\)/);
    expect((await serverObjects()).map((o) => o.id).sort()).toEqual([
      'carrier',
      'office',
      'sales',
      'support',
    ]);
    expect((await planJson(CONFIG)).code).toBe(EXIT.ok);
  });
});
