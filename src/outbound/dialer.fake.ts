import type { Clock } from '../call-records/clock.js';
import type { OutboundCallRequest, OutboundDialer, PlacedCall } from './dialer.js';
import type { OutboundOutcome, OutboundResult } from './outcome.js';

/** One scripted attempt: what the dial comes to, and (optionally) how it is timed. */
export interface ScriptedCall {
  outcome: OutboundOutcome;
  /** Dial -> outcome. Unit: ms. Default: the dialer's `ringMs`. */
  ringMs?: number;
  /** Outcome -> the call is over (an answered call's conversation). Unit: ms. Default: `talkMs` when answered, else 0. */
  callMs?: number;
}

export interface PlacedRecord {
  request: OutboundCallRequest;
  atMs: number;
}

/** The outcome of a result as livekit-sip would give it. */
export function outcomeOf(result: OutboundResult, sipStatus?: number): OutboundOutcome {
  const status =
    sipStatus ??
    (
      { busy: 486, declined: 603, no_answer: 480, failed: 500 } as Partial<
        Record<OutboundResult, number>
      >
    )[result];
  return {
    result,
    ...(status === undefined ? {} : { sipStatus: status }),
    detail: `${result.replace('_', ' ')}${status === undefined ? '' : ` (SIP ${status})`}`,
  };
}

/**
 * An OutboundDialer from a script: per number, the outcome of each successive attempt (the last
 * one repeats; unscripted numbers answer). It keeps every request with its time and the most
 * calls it had under way at once, overall and per trunk, as a callee's side would count them.
 */
export class ScriptedDialer implements OutboundDialer {
  readonly placed: PlacedRecord[] = [];
  maxConcurrent = 0;
  readonly maxConcurrentPerTrunk = new Map<string, number>();
  private active = 0;
  private readonly activePerTrunk = new Map<string, number>();
  private readonly script: Map<string, (ScriptedCall | OutboundResult)[]>;
  private readonly rejections = new Map<string, Error>();
  /** Each room's call, over when its promise settles. */
  private readonly over = new Map<string, Promise<void>>();
  /** Rooms whose call is up now. */
  private readonly up = new Set<string>();

  constructor(
    private readonly clock: Clock,
    script: Record<string, (ScriptedCall | OutboundResult)[]> = {},
    private readonly timing: { ringMs?: number; talkMs?: number } = {},
  ) {
    this.script = new Map(Object.entries(script));
  }

  /**
   * A call an earlier process placed, up at the callee's side in `room` on `trunk` for `forMs`
   * more: counted in `maxConcurrent` as the callee sees it, and what `untilOver(room)` waits for.
   */
  callAlreadyUp(room: string, trunk: string, forMs: number): void {
    this.countUp(trunk);
    this.up.add(room);
    this.over.set(
      room,
      this.clock.sleep(forMs).finally(() => {
        this.up.delete(room);
        this.countDown(trunk);
      }),
    );
  }

  untilOver(room: string): Promise<void> {
    return this.over.get(room) ?? Promise.resolve();
  }

  callsUp(rooms: readonly string[]): Promise<string[]> {
    return Promise.resolve(rooms.filter((r) => this.up.has(r)));
  }

  /** `place` rejects for this number (or '*': every number) with `error`, as for a missing trunk. */
  rejectPlace(number: string, error: Error): void {
    this.rejections.set(number, error);
  }

  /** How many times `number` was dialled. */
  dials(number: string): number {
    return this.placed.filter((p) => p.request.to === number).length;
  }

  place(request: OutboundCallRequest, signal?: AbortSignal): Promise<PlacedCall> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const rejection = this.rejections.get(request.to) ?? this.rejections.get('*');
    if (rejection !== undefined) return Promise.reject(rejection);
    const attempt = this.dials(request.to);
    this.placed.push({ request, atMs: this.clock.nowMs() });
    const steps = this.script.get(request.to) ?? ['answered'];
    const step = steps[Math.min(attempt, steps.length - 1)] ?? 'answered';
    const call: ScriptedCall = typeof step === 'string' ? { outcome: outcomeOf(step) } : step;
    const ringMs = call.ringMs ?? this.timing.ringMs ?? 1_000;
    const callMs =
      call.callMs ??
      (call.outcome.result === 'answered' || call.outcome.result === 'voicemail'
        ? (this.timing.talkMs ?? 10_000)
        : 0);

    this.countUp(request.trunk);
    const outcome = this.clock.sleep(ringMs).then(() => call.outcome);
    const ended = outcome
      .then(() => this.clock.sleep(callMs))
      .finally(() => this.countDown(request.trunk));
    const room = `call-out-fake-${this.placed.length}`;
    this.up.add(room);
    this.over.set(
      room,
      ended.finally(() => this.up.delete(room)),
    );
    return Promise.resolve({ room, outcome, ended, hangUp: () => Promise.resolve() });
  }

  private countUp(trunk: string): void {
    this.active += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    const onTrunk = (this.activePerTrunk.get(trunk) ?? 0) + 1;
    this.activePerTrunk.set(trunk, onTrunk);
    this.maxConcurrentPerTrunk.set(
      trunk,
      Math.max(this.maxConcurrentPerTrunk.get(trunk) ?? 0, onTrunk),
    );
  }

  private countDown(trunk: string): void {
    this.active -= 1;
    this.activePerTrunk.set(trunk, (this.activePerTrunk.get(trunk) ?? 1) - 1);
  }
}
