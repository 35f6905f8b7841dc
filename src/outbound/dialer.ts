import type { OutboundOutcome } from './outcome.js';

/** One call to place: who to dial, which agent talks, through which trunk. */
export interface OutboundCallRequest {
  /** E.164, e.g. +15550123. */
  to: string;
  /** The agent (its worker's registered name) that dials and talks. */
  agentName: string;
  /** The outbound trunk, by name as `npm run sip` provisions it. */
  trunk: string;
  /** Caller ID, E.164; one of the trunk's numbers. Default: the trunk's first. */
  from?: string;
  /** More call options for the agent (the same as a line's dispatch metadata). */
  callOptions?: Readonly<Record<string, unknown>>;
}

/** A call under way. `outcome` settles once the dial is decided; `ended` once the call is over. */
export interface PlacedCall {
  room: string;
  outcome: Promise<OutboundOutcome>;
  ended: Promise<void>;
  /** Ends the call (or the dial) now. */
  hangUp: () => Promise<void>;
}

/**
 * Places outbound calls. `place` rejects only when the request cannot be dialled at all (a
 * SwitchboardError: bad number, no such trunk, LiveKit unreachable); every dial outcome, busy or
 * failed included, arrives in `outcome`.
 */
export interface OutboundDialer {
  place: (request: OutboundCallRequest, signal?: AbortSignal) => Promise<PlacedCall>;
  /**
   * Settles once the call placed in `room` is over (at once when it already is, or the room is
   * unknown): for a call an earlier process placed, which it cannot follow through `ended`.
   */
  untilOver: (room: string, signal?: AbortSignal) => Promise<void>;
  /** Of `rooms`, those whose call may still be up (their room is there): one look for many. */
  callsUp: (rooms: readonly string[]) => Promise<string[]>;
}
