import type { Channel } from '../caller/index.js';

/**
 * Whether the worker takes a call it is offered. The worker decides, not only livekit-server:
 * the load it reports can be 2.5 s old, two offers can arrive together, and LiveKit
 * Cloud replaces a custom load function with its own. So the limit on concurrent calls holds here.
 *
 * A job accepted but not yet running (the server's assignment and the job process start take a
 * moment) is counted through a reservation until it shows up among the running jobs, or until
 * `reservationTtlMs` passes (the assignment never came).
 *
 * Browser calls get only `maxCalls - phoneReservedCalls` seats: a script with browser tokens can
 * fill those, never the seats kept for phone callers.
 */
export type AdmissionDecision =
  | { accept: true }
  | { accept: false; reason: 'draining' | 'at_call_limit' | 'web_share_full' | 'at_cpu_limit' };

export class Admission {
  private readonly reservations = new Map<string, number>();
  /** The channel of every job accepted, while it is reserved or running. */
  private readonly channels = new Map<string, Channel>();
  private draining = false;

  constructor(
    private readonly opts: {
      maxCalls: number;
      /** Seats only phone calls may take. Default 0. */
      phoneReservedCalls?: number;
      /** Usage (1 = full) from CPU alone, as last measured. */
      cpuUsage: () => number;
      reservationTtlMs?: number;
    },
  ) {}

  /**
   * Decides on job `jobId` from `channel` at `nowMs`, with the ids of the jobs running now. A
   * call whose channel is not known is decided as a phone call: it is never refused for the
   * browsers' share.
   */
  decide(
    jobId: string,
    runningJobIds: ReadonlySet<string>,
    nowMs: number,
    channel: Channel = 'phone',
  ): AdmissionDecision {
    if (this.draining) return { accept: false, reason: 'draining' };
    const pending = this.pendingCount(runningJobIds, nowMs);
    if (runningJobIds.size + pending >= this.opts.maxCalls)
      return { accept: false, reason: 'at_call_limit' };
    if (channel === 'web' && this.webCalls(runningJobIds) >= this.webSeats)
      return { accept: false, reason: 'web_share_full' };
    if (this.opts.cpuUsage() >= 1) return { accept: false, reason: 'at_cpu_limit' };
    this.reservations.set(jobId, nowMs);
    this.channels.set(jobId, channel);
    return { accept: true };
  }

  /** Seats browser calls may take. */
  get webSeats(): number {
    return Math.max(0, this.opts.maxCalls - (this.opts.phoneReservedCalls ?? 0));
  }

  /** Jobs accepted that are not running yet (and not given up on). */
  pendingCount(runningJobIds: ReadonlySet<string>, nowMs: number): number {
    const ttl = this.opts.reservationTtlMs ?? 15_000;
    for (const [id, at] of this.reservations) {
      if (runningJobIds.has(id) || nowMs - at > ttl) this.reservations.delete(id);
    }
    for (const id of this.channels.keys())
      if (!runningJobIds.has(id) && !this.reservations.has(id)) this.channels.delete(id);
    return this.reservations.size;
  }

  /** Browser calls running or accepted (call `pendingCount` first, which forgets ended jobs). */
  private webCalls(runningJobIds: ReadonlySet<string>): number {
    let n = 0;
    for (const [id, channel] of this.channels)
      if (channel === 'web' && (runningJobIds.has(id) || this.reservations.has(id))) n++;
    return n;
  }

  /** From now on every offer is declined. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
