import { describe, expect, it } from 'vitest';
import {
  MANAGED_METADATA,
  planSipConfig,
  SipConfigSpec,
  validateSipConfig,
} from '../../sip-dispatch/index.js';

const desired = SipConfigSpec.parse({
  inboundTrunks: [{ name: 'main', numbers: ['+15550100'] }],
  dispatchRules: [
    {
      name: 'main',
      type: 'individual',
      roomPrefix: 'call-',
      trunks: ['main'],
      agents: [{ name: 'switchboard' }],
    },
  ],
});
const trunkSpec = desired.inboundTrunks[0]!;
const ruleSpec = desired.dispatchRules[0]!;

describe('sip-dispatch plan', () => {
  it('creates everything on an empty server', () => {
    const p = planSipConfig(desired, { trunks: [], rules: [] });
    expect(p.trunks.map((s) => s.action)).toEqual(['create']);
    expect(p.rules.map((s) => s.action)).toEqual(['create']);
    expect(p.conflicts).toEqual([]);
  });

  it('changes nothing when the server matches', () => {
    const p = planSipConfig(desired, {
      trunks: [{ id: 'ST_1', name: 'main', managed: true, spec: trunkSpec }],
      rules: [{ id: 'SDR_1', name: 'main', managed: true, spec: ruleSpec }],
    });
    expect([...p.trunks, ...p.rules].map((s) => s.action)).toEqual(['unchanged', 'unchanged']);
  });

  it('replaces a changed trunk and the rules that refer to it', () => {
    const p = planSipConfig(desired, {
      trunks: [
        { id: 'ST_1', name: 'main', managed: true, spec: { ...trunkSpec, numbers: ['+15550999'] } },
      ],
      rules: [{ id: 'SDR_1', name: 'main', managed: true, spec: ruleSpec }],
    });
    expect(p.trunks).toEqual([{ action: 'replace', id: 'ST_1', spec: trunkSpec }]);
    expect(p.rules).toEqual([{ action: 'replace', id: 'SDR_1', spec: ruleSpec }]);
  });

  it('refuses to touch a same-named object it did not create', () => {
    const p = planSipConfig(desired, {
      trunks: [{ id: 'ST_9', name: 'main', managed: false, spec: trunkSpec }],
      rules: [],
    });
    expect(p.conflicts).toEqual([
      expect.stringContaining(
        'inbound trunk "main" (ST_9) exists but was not created by sip-dispatch',
      ),
    ]);
  });

  it('marks what it manages in the metadata', () => {
    expect(JSON.parse(MANAGED_METADATA)).toEqual({ managedBy: 'switchboard/sip-dispatch' });
  });
});

describe('sip-dispatch validation', () => {
  it('reports every whole-set problem at once', () => {
    const spec = SipConfigSpec.parse({
      inboundTrunks: [{ name: 'a' }, { name: 'a' }],
      dispatchRules: [{ name: 'r', type: 'individual', trunks: ['missing'] }],
    });
    expect(validateSipConfig(spec)).toEqual([
      'inboundTrunks: the name "a" is used twice',
      'dispatchRules.r: trunk "missing" is not defined in inboundTrunks',
    ]);
  });

  it('rejects unknown keys instead of ignoring them', () => {
    expect(SipConfigSpec.safeParse({ inboundTrunks: [{ name: 'a', numbrs: [] }] }).success).toBe(
      false,
    );
  });
});
