import {
  describeCaller,
  type Caller,
  type CallStatus,
  type ParticipantSnapshot,
} from './caller.js';

export interface CallStatusChange {
  from: CallStatus;
  to: CallStatus;
}

/**
 * The caller as it is now. livekit-sip puts only a few `sip.*` attributes in its token and sets
 * the rest (headers, host, call status) right after joining; the status keeps changing during
 * the call. Agent code reads `current` and never caches a Caller built at join time.
 */
export class LiveCaller {
  private caller: Caller;
  private snapshot: ParticipantSnapshot;
  private headerAttributes: Readonly<Record<string, string>> = {};
  private readonly listeners = new Set<(change: CallStatusChange, caller: Caller) => void>();

  constructor(snapshot: ParticipantSnapshot) {
    this.snapshot = snapshot;
    this.caller = describeCaller(snapshot);
  }

  /** The trunk's `headers_to_attributes` (attribute key -> header name), once looked up. */
  mapHeaders(headerAttributes: Readonly<Record<string, string>>): void {
    this.headerAttributes = headerAttributes;
    this.caller = describeCaller(this.snapshot, headerAttributes);
  }

  get current(): Caller {
    return this.caller;
  }

  /** Rebuilds the model from the participant's latest state; reports a call-status change. */
  refresh(snapshot: ParticipantSnapshot): CallStatusChange | undefined {
    if (snapshot.identity !== this.caller.identity) return undefined;
    const before = this.caller;
    this.snapshot = snapshot;
    this.caller = describeCaller(snapshot, this.headerAttributes);
    const from = before.channel === 'phone' ? before.callStatus : undefined;
    const to = this.caller.channel === 'phone' ? this.caller.callStatus : undefined;
    if (from === undefined || to === undefined || from === to) return undefined;
    const change = { from, to };
    for (const listener of this.listeners) listener(change, this.caller);
    return change;
  }

  onStatusChange(listener: (change: CallStatusChange, caller: Caller) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
