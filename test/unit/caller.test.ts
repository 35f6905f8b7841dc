import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import {
  describeCaller,
  maskPhoneNumber,
  normalizePhoneNumber,
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
