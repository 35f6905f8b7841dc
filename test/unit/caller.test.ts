import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import {
  AGENT_ATTR,
  describeCaller,
  invertHeaderMapping,
  isAgent,
  isCaller,
  LiveCaller,
  maskPhoneNumber,
  normalizePhoneNumber,
  snapshotOf,
  TrunkHeaderDirectory,
  type ParticipantSnapshot,
} from '../../src/caller/index.js';

const inboundSip: ParticipantSnapshot = {
  identity: 'sip_+15557654321',
  name: 'Phone +15557654321',
  kind: ParticipantKind.SIP,
  attributes: {
    'sip.callID': 'SCL_abc',
    'sip.callStatus': 'active',
    'sip.phoneNumber': '+15557654321',
    'sip.trunkPhoneNumber': '15550100',
    'sip.trunkID': 'ST_1',
    'sip.ruleID': 'SDR_1',
    'sip.h.x-customer': 'gold',
  },
};

describe('describeCaller', () => {
  it.each([
    [
      'inbound SIP',
      inboundSip,
      {
        channel: 'phone',
        direction: 'inbound',
        callerNumber: '+15557654321',
        calledNumber: '+15550100',
        sipCallId: 'SCL_abc',
        trunkId: 'ST_1',
        dispatchRuleId: 'SDR_1',
        callStatus: 'active',
        sipHeaders: { 'x-customer': 'gold' },
        capabilities: { dtmf: true, referTransfer: true },
      },
    ],
    [
      'outbound SIP (no rule)',
      {
        ...inboundSip,
        attributes: {
          'sip.callID': 'SCL_out',
          'sip.callStatus': 'dialing',
          'sip.phoneNumber': '+15550009999',
        },
      },
      {
        channel: 'phone',
        direction: 'outbound',
        callStatus: 'dialing',
        capabilities: { dtmf: true, referTransfer: true },
      },
    ],
    [
      'SIP with hidden number',
      { ...inboundSip, attributes: { 'sip.callID': 'SCL_h', 'sip.ruleID': 'SDR_1' } },
      { channel: 'phone', callStatus: 'unknown' },
      ['callerNumber', 'calledNumber'],
    ],
    [
      'SIP without a call ID cannot be REFERred',
      { ...inboundSip, attributes: { 'sip.ruleID': 'SDR_1' } },
      { channel: 'phone', capabilities: { dtmf: true, referTransfer: false } },
    ],
    [
      'unknown call status',
      { ...inboundSip, attributes: { ...inboundSip.attributes, 'sip.callStatus': 'on-fire' } },
      { callStatus: 'unknown' },
    ],
    [
      'browser user',
      {
        identity: 'web-user-1',
        name: 'Ada',
        kind: ParticipantKind.STANDARD,
        attributes: { 'user.id': 'u-42' },
      },
      {
        channel: 'web',
        direction: 'inbound',
        displayName: 'Ada',
        userId: 'u-42',
        capabilities: { dtmf: false, referTransfer: false },
      },
    ],
    [
      'browser user without a name',
      { identity: 'web-user-2', kind: ParticipantKind.STANDARD, attributes: {} },
      { channel: 'web', displayName: 'web-user-2' },
      ['userId'],
    ],
    [
      'browser user ignores sip.* attributes',
      {
        identity: 'web-user-3',
        kind: ParticipantKind.STANDARD,
        attributes: { 'sip.callID': 'SCL_fake' },
      },
      { channel: 'web', capabilities: { dtmf: false, referTransfer: false } },
    ],
  ] as const)('%s', (_name, participant, expected, absent: readonly string[] = []) => {
    const caller = describeCaller(participant);
    expect(caller).toMatchObject(expected);
    for (const key of absent) expect(caller).not.toHaveProperty(key);
  });
});

describe('phone numbers', () => {
  it.each([
    ['+15557654321', '+15557654321'],
    ['15557654321', '+15557654321'],
    ['0015557654321', '+15557654321'],
    ['+1 (555) 765-4321', '+15557654321'],
    ['alice', 'alice'],
    ['12', '12'],
  ])('normalizes %s to %s', (raw, e164) => {
    expect(normalizePhoneNumber(raw)).toBe(e164);
  });

  it.each([
    ['+15557654321', '**********21'],
    ['7', '**'],
  ])('masks %s as %s', (n, masked) => {
    expect(maskPhoneNumber(n)).toBe(masked);
  });
});

describe('LiveCaller: attributes that arrive after join', () => {
  const atJoin: ParticipantSnapshot = {
    identity: 'sip_+15557654321',
    kind: ParticipantKind.SIP,
    // What livekit-sip's token carries; the rest is set right after the join.
    attributes: {
      'sip.callID': 'SCL_abc',
      'sip.phoneNumber': '+15557654321',
      'sip.trunkID': 'ST_1',
      'sip.ruleID': 'SDR_1',
    },
  };

  it('picks up late attributes and reports each call-status transition once', async () => {
    const { LiveCaller } = await import('../../src/caller/index.js');
    const live = new LiveCaller(atJoin);
    const seen: string[] = [];
    live.onStatusChange((c) => seen.push(`${c.from}->${c.to}`));
    expect(live.current).toMatchObject({ callStatus: 'unknown' });
    expect(live.current).not.toHaveProperty('calledNumber');

    const later = (extra: Record<string, string>) => ({
      ...atJoin,
      attributes: { ...atJoin.attributes, ...extra },
    });
    live.refresh(
      later({
        'sip.callStatus': 'ringing',
        'sip.trunkPhoneNumber': '+15550100',
        'sip.h.x-customer': 'gold',
      }),
    );
    live.refresh(
      later({
        'sip.callStatus': 'active',
        'sip.trunkPhoneNumber': '+15550100',
        'sip.h.x-customer': 'gold',
      }),
    );
    live.refresh(
      later({
        'sip.callStatus': 'active',
        'sip.trunkPhoneNumber': '+15550100',
        'sip.h.x-customer': 'gold',
      }),
    );
    live.refresh(later({ 'sip.callStatus': 'hangup', 'sip.trunkPhoneNumber': '+15550100' }));

    expect(seen).toEqual(['unknown->ringing', 'ringing->active', 'active->hangup']);
    expect(live.current).toMatchObject({ calledNumber: '+15550100', callStatus: 'hangup' });
  });

  it('ignores updates for another participant', async () => {
    const { LiveCaller } = await import('../../src/caller/index.js');
    const live = new LiveCaller(atJoin);
    expect(
      live.refresh({
        ...atJoin,
        identity: 'someone-else',
        attributes: { 'sip.callStatus': 'active' },
      }),
    ).toBeUndefined();
    expect(live.current.identity).toBe(atJoin.identity);
  });
});

describe("the trunk's headers_to_attributes in the caller model", () => {
  const sip = (attributes: Record<string, string>) => ({
    identity: 'sip_+15551230000',
    kind: ParticipantKind.SIP,
    attributes: { 'sip.callID': 'SCL_1', 'sip.trunkID': 'ST_1', ...attributes },
  });

  it.each([
    ['a mapped attribute', { 'customer.tier': 'gold' }, { 'x-customer-tier': 'gold' }],
    ['a sip.h.* attribute, lower-cased', { 'sip.h.X-Account': '42' }, { 'x-account': '42' }],
    ['an attribute the trunk does not map', { department: 'sales' }, {}],
  ])('%s', (_what, attributes, headers) => {
    const caller = describeCaller(sip(attributes), { 'customer.tier': 'x-customer-tier' });
    expect(caller.channel === 'phone' && caller.sipHeaders).toEqual(headers);
  });

  it('LiveCaller keeps the mapping through later attribute updates', () => {
    const live = new LiveCaller(sip({}));
    live.mapHeaders({ 'customer.tier': 'x-customer-tier' });
    live.refresh(sip({ 'customer.tier': 'gold' }));
    expect(live.current.channel === 'phone' && live.current.sipHeaders).toEqual({
      'x-customer-tier': 'gold',
    });
  });

  it('inverts the mapping with lower-case header names', () => {
    expect(invertHeaderMapping({ 'X-Customer-Tier': 'customer.tier', 'X-Empty': '' })).toEqual({
      'customer.tier': 'x-customer-tier',
    });
  });

  it('reads each trunk once per minute, and asks again after a failure', async () => {
    let now = 0;
    const asked: string[][] = [];
    let fail = true;
    const directory = new TrunkHeaderDirectory(
      {
        listSipInboundTrunk: async (opts) => {
          asked.push(opts?.trunkIds ?? []);
          if (fail) throw new Error('unavailable');
          return [{ headersToAttributes: { 'X-Customer-Tier': 'customer.tier' } }] as never;
        },
      },
      () => now,
    );
    await expect(directory.headerAttributes('ST_1')).rejects.toThrow('unavailable');
    fail = false;
    expect(await directory.headerAttributes('ST_1')).toEqual({
      'customer.tier': 'x-customer-tier',
    });
    now = 59_000;
    await directory.headerAttributes('ST_1');
    now = 61_000;
    await directory.headerAttributes('ST_1');
    expect(asked).toEqual([['ST_1'], ['ST_1'], ['ST_1']]);
  });
});

describe('the server participant in the caller model', () => {
  it.each([
    ['a browser (standard)', 0, ParticipantKind.STANDARD],
    ['a phone leg (SIP)', 3, ParticipantKind.SIP],
    ['an agent', 4, ParticipantKind.AGENT],
    ['a connector: 7 in the protocol, 5 in rtc-node', 7, ParticipantKind.CONNECTOR],
    ['a bridge: 8 in the protocol, 6 in rtc-node', 8, ParticipantKind.BRIDGE],
    ['an unknown kind', 42, undefined],
  ])('%s', (_name, protocolKind, kind) => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- protocol numbers, as the server sends them
    const s = snapshotOf({ identity: 'x', name: '', kind: protocolKind, attributes: {} });
    expect(s?.kind).toBe(kind);
  });
});

describe('who a participant is', () => {
  const p = (kind: ParticipantKind, agentName?: string) => {
    const attributes: Record<string, string> = {};
    if (agentName !== undefined) attributes[AGENT_ATTR.agentName] = agentName;
    return { kind, attributes };
  };
  it.each([
    ['a browser user', p(ParticipantKind.STANDARD), true],
    ['a phone leg', p(ParticipantKind.SIP), true],
    ['an agent', p(ParticipantKind.AGENT, 'switchboard'), false],
    ['an egress recorder', p(ParticipantKind.EGRESS), false],
    ['an ingress', p(ParticipantKind.INGRESS), false],
    ['a connector', p(ParticipantKind.CONNECTOR), false],
  ])('%s is a caller: %s', (_name, participant, caller) => {
    expect(isCaller(participant)).toBe(caller);
  });

  it.each([
    ['the agent of that name', p(ParticipantKind.AGENT, 'switchboard'), 'switchboard', true],
    ['an agent of another name', p(ParticipantKind.AGENT, 'other'), 'switchboard', false],
    ['an agent without a name', p(ParticipantKind.AGENT), 'switchboard', false],
    ['any agent, no name asked', p(ParticipantKind.AGENT, 'other'), undefined, true],
    [
      'a phone leg carrying the attribute',
      p(ParticipantKind.SIP, 'switchboard'),
      'switchboard',
      false,
    ],
    ['a browser user', p(ParticipantKind.STANDARD), undefined, false],
  ])('%s', (_name, participant, agentName, agent) => {
    expect(isAgent(participant, agentName)).toBe(agent);
  });
});
