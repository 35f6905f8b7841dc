import { dialErrorKind, sipStatusOf } from '../transfer/outcome.js';

/**
 * What dialling a number came to, as data: the call record, `npm run call` and campaign retries
 * branch on `result`, never on error text.
 */
export const OUTBOUND_RESULTS = [
  /** A person answered (or nobody could tell: answering-machine detection was off or unsure). */
  'answered',
  /** An answering machine or voicemail answered. */
  'voicemail',
  /** It rang until the ringing timeout, or the far end said 408/480/487. */
  'no_answer',
  'busy',
  /** The callee, their phone or the carrier refused the call (403, 603). */
  'declined',
  /** Anything else: no such number (404), the trunk or carrier failed (5xx), no agent. */
  'failed',
] as const;
export type OutboundResult = (typeof OUTBOUND_RESULTS)[number];

export interface OutboundOutcome {
  result: OutboundResult;
  /** The final SIP status of the INVITE, where there was one. */
  sipStatus?: number;
  /** Why, in words, without the number dialled. */
  detail: string;
  /** INVITE sent -> answered, or -> given up. Unit: ms. */
  ringingMs?: number;
}

/**
 * A failed CreateSIPParticipant as an outcome. livekit-sip puts the SIP status in the error
 * message ("INVITE failed: sip status: 486: ..."); a ringing timeout comes back as `canceled`
 * ("sip request timed out") or a client-side deadline.
 */
export function dialOutcome(err: unknown, ringingMs?: number): OutboundOutcome {
  const sipStatus = sipStatusOf(err);
  const result: OutboundResult = dialErrorKind(err);
  const because: Record<OutboundResult, string> = {
    answered: 'answered',
    voicemail: 'a machine answered',
    no_answer: 'nobody answered before the ringing timeout',
    busy: 'the line was busy',
    declined: 'the call was declined',
    failed: 'the call could not be placed',
  };
  return {
    result,
    ...(sipStatus === undefined ? {} : { sipStatus }),
    detail: `${because[result]}${sipStatus === undefined ? '' : ` (SIP ${sipStatus})`}`,
    ...(ringingMs === undefined ? {} : { ringingMs }),
  };
}
