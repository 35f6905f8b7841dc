import { ParticipantKind } from '@livekit/rtc-node';
import { normalizePhoneNumber } from './phone-number.js';

/**
 * Who is calling, decided once per call from the participant. Agent code and tools branch on this
 * model only, never on raw participant kinds or `sip.*` attribute strings.
 */
export type Channel = 'phone' | 'web';

/** livekit-sip's `sip.callStatus` values; `unknown` for a value this package does not know. */
export type CallStatus = 'dialing' | 'ringing' | 'automation' | 'active' | 'hangup' | 'unknown';

export interface CallerCapabilities {
  /** RFC 4733 digits in and out: only a SIP leg carries them. */
  dtmf: boolean;
  /** SIP REFER needs a SIP dialog (livekit-sip's `sip.callID`). */
  referTransfer: boolean;
}

interface CallerBase {
  identity: string;
  displayName: string;
  capabilities: CallerCapabilities;
}

export interface PhoneCaller extends CallerBase {
  channel: 'phone';
  direction: 'inbound' | 'outbound';
  /**
   * The calling number (From user), E.164 where possible: the caller's on an inbound call (absent
   * when the rule hides it), the trunk's on a call the agent placed.
   */
  callerNumber?: string;
  /** The number dialled: the trunk's on an inbound call, the callee's on a call the agent placed. */
  calledNumber?: string;
  /** livekit-sip's call ID (`SCL_…`). */
  sipCallId?: string;
  trunkId?: string;
  dispatchRuleId?: string;
  callStatus: CallStatus;
  /**
   * The INVITE's headers that reached the agent, by lower-case name: the trunk's
   * `include_headers` (`sip.h.*` attributes) and its `headers_to_attributes` mapping.
   */
  sipHeaders: Readonly<Record<string, string>>;
}

export interface WebCaller extends CallerBase {
  channel: 'web';
  direction: 'inbound';
  /** Application user ID, from the token's `user.id` attribute (see src/tokens). */
  userId?: string;
}

export type Caller = PhoneCaller | WebCaller;

/** The participant fields the model is built from (a subset of rtc-node's RemoteParticipant). */
export interface ParticipantSnapshot {
  identity: string;
  name?: string;
  kind: ParticipantKind;
  attributes: Readonly<Record<string, string>>;
}

export const SIP_ATTR = {
  callId: 'sip.callID',
  callStatus: 'sip.callStatus',
  phoneNumber: 'sip.phoneNumber',
  trunkPhoneNumber: 'sip.trunkPhoneNumber',
  trunkId: 'sip.trunkID',
  ruleId: 'sip.ruleID',
  headerPrefix: 'sip.h.',
} as const;

export const WEB_ATTR = { userId: 'user.id' } as const;

const CALL_STATUSES: ReadonlySet<string> = new Set([
  'dialing',
  'ringing',
  'automation',
  'active',
  'hangup',
]);

/**
 * `headerAttributes`: the inbound trunk's `headers_to_attributes` turned around (attribute key ->
 * header name), since those attributes carry no `sip.h.` prefix to recognise them by.
 */
export function describeCaller(
  p: ParticipantSnapshot,
  headerAttributes: Readonly<Record<string, string>> = {},
): Caller {
  const a = p.attributes;
  if (p.kind === ParticipantKind.SIP) {
    const status = a[SIP_ATTR.callStatus];
    const sipHeaders: Record<string, string> = {};
    for (const [key, value] of Object.entries(a)) {
      if (key.startsWith(SIP_ATTR.headerPrefix))
        sipHeaders[key.slice(SIP_ATTR.headerPrefix.length).toLowerCase()] = value;
      const mapped = headerAttributes[key];
      if (mapped !== undefined) sipHeaders[mapped.toLowerCase()] = value;
    }
    // livekit-sip's sip.phoneNumber is the far end's number in both directions: the caller's on
    // a call it received, the callee's on one it placed; sip.trunkPhoneNumber is the trunk's.
    const outbound = a[SIP_ATTR.ruleId] === undefined || a[SIP_ATTR.ruleId] === '';
    const farEnd = optional(a[SIP_ATTR.phoneNumber]);
    const trunkNumber = optional(a[SIP_ATTR.trunkPhoneNumber]);
    const callerNumber = outbound ? trunkNumber : farEnd;
    const calledNumber = outbound ? farEnd : trunkNumber;
    const sipCallId = optional(a[SIP_ATTR.callId]);
    const trunkId = optional(a[SIP_ATTR.trunkId]);
    const dispatchRuleId = optional(a[SIP_ATTR.ruleId]);
    return {
      channel: 'phone',
      // livekit-sip sets a dispatch rule only on calls it received; calls it placed have none.
      direction: dispatchRuleId === undefined ? 'outbound' : 'inbound',
      identity: p.identity,
      displayName: p.name ?? p.identity,
      ...(callerNumber === undefined ? {} : { callerNumber: normalizePhoneNumber(callerNumber) }),
      ...(calledNumber === undefined ? {} : { calledNumber: normalizePhoneNumber(calledNumber) }),
      ...(sipCallId === undefined ? {} : { sipCallId }),
      ...(trunkId === undefined ? {} : { trunkId }),
      ...(dispatchRuleId === undefined ? {} : { dispatchRuleId }),
      callStatus:
        status === undefined
          ? 'unknown'
          : CALL_STATUSES.has(status)
            ? (status as CallStatus)
            : 'unknown',
      sipHeaders,
      capabilities: { dtmf: true, referTransfer: sipCallId !== undefined },
    };
  }
  const userId = optional(a[WEB_ATTR.userId]);
  return {
    channel: 'web',
    direction: 'inbound',
    identity: p.identity,
    displayName: p.name !== undefined && p.name !== '' ? p.name : p.identity,
    ...(userId === undefined ? {} : { userId }),
    capabilities: { dtmf: false, referTransfer: false },
  };
}

function optional(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
