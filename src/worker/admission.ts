import type { Channel } from '../caller/index.js';

/**
 * Whether the worker takes a call it is offered. The worker decides, not only livekit-server:
 * the load it reports can be 2.5 s old, two offers can arrive together, and LiveKit
 * Cloud replaces a custom load function with its own. So the limit on concurrent calls holds here.
 *
 * A job accepted but not running yet holds its seat through a reservation, until the job shows up
 * among the running jobs or its launch deadline (`launchDeadlineMs`) passes. The deadline is the
 * only sign of a failed launch: in @livekit/agents 1.9.0 `JobRequest.accept()` resolves before the
 * server's assignment arrives (job.js), and the launch that follows, waiting for the assignment and
 * then for a prewarmed process, either sets the job running or fails without a trace outside the
 * framework's log (worker.js `#availability`: "error launching job", or an assignment that never
 * comes). A reservation that runs out is handed back by `settle`, with its room, so that the
 * worker answers the caller busy instead of leaving the call ringing.
 *
 * Browser calls get only `maxCalls - phoneReservedCalls` seats: a script with browser tokens can
 * fill those, never the seats kept for phone callers.
 */
export type AdmissionDecision =
  | { accept: true }
  | { accept: false; reason: 'draining' | 'at_call_limit' | 'web_share_full' | 'at_cpu_limit' };

/** A job accepted that never ran: its caller is waiting for an answer in `room`. */
export interface UnlaunchedJob {
  jobId: string;
  /** Undefined when the offer named no room. */
  room: string | undefined;
  channel: Channel;
  acceptedAtMs: number;
}

/**
 * @livekit/agents 1.9.0 waits this long for the server's assignment before it warns (worker.js
 * ASSIGNMENT_TIMEOUT; it never gives up). livekit-server sends it as soon as it has the answer.
 */
export const FRAMEWORK_ASSIGNMENT_WAIT_MS = 7_500;
/** Forking the job process and the IPC around its start, beyond the initialize timeout. */
const LAUNCH_MARGIN_MS = 5_000;

/**
 * How long an accepted job may take to run: the server's assignment, then a process started and
 * prewarmed within `initializeProcessTimeoutMs` (the framework's initialize timeout covers the
 * process from its fork), and a margin. A cold burst waits for processes started one after the
 * other (the framework initializes one at a time), so a deadline shorter than one whole start
 * would free seats of jobs still on their way.
 */
export function launchDeadlineMs(initializeProcessTimeoutMs: number): number {
  return FRAMEWORK_ASSIGNMENT_WAIT_MS + initializeProcessTimeoutMs + LAUNCH_MARGIN_MS;
}

interface Reservation {
  room: string | undefined;
  channel: Channel;
  acceptedAtMs: number;
}

export class Admission {
  private readonly reservations = new Map<string, Reservation>();
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
      /** How long an accepted job holds its seat before it runs; see `launchDeadlineMs()`. */
      launchDeadlineMs: number;
    },
  ) {}

  /**
   * Decides on job `jobId` from `channel` at `nowMs`, with the ids of the jobs running now. A
   * call whose channel is not known is decided as a phone call: it is never refused for the
   * browsers' share. `room` is kept with the reservation, for a busy answer if the job never runs.
   */
  decide(
    jobId: string,
    runningJobIds: ReadonlySet<string>,
    nowMs: number,
    channel: Channel = 'phone',
    room?: string,
  ): AdmissionDecision {
    if (this.draining) return { accept: false, reason: 'draining' };
    this.forgetStarted(runningJobIds);
    this.forgetEnded(runningJobIds);
    const pending = this.pendingCount(runningJobIds, nowMs);
    if (runningJobIds.size + pending >= this.opts.maxCalls)
      return { accept: false, reason: 'at_call_limit' };
    if (channel === 'web' && this.webCalls(runningJobIds, nowMs) >= this.webSeats)
      return { accept: false, reason: 'web_share_full' };
    if (this.opts.cpuUsage() >= 1) return { accept: false, reason: 'at_cpu_limit' };
    this.reservations.set(jobId, { room, channel, acceptedAtMs: nowMs });
    this.channels.set(jobId, channel);
    return { accept: true };
  }

  /** Seats browser calls may take. */
  get webSeats(): number {
    return Math.max(0, this.opts.maxCalls - (this.opts.phoneReservedCalls ?? 0));
  }

  /** Jobs accepted that are not running yet and still within their launch deadline. */
  pendingCount(runningJobIds: ReadonlySet<string>, nowMs: number): number {
    let n = 0;
    for (const [id, r] of this.reservations)
      if (!runningJobIds.has(id) && this.withinDeadline(r, nowMs)) n++;
    return n;
  }

  /**
   * Ends the reservations that are over: a job running now counts as running from here on (so a
   * short call frees its seat when it ends, whenever the next offer comes), and a job past its
   * launch deadline is given up on and returned, for its caller to be answered busy.
   */
  settle(runningJobIds: ReadonlySet<string>, nowMs: number): UnlaunchedJob[] {
    this.forgetStarted(runningJobIds);
    const unlaunched: UnlaunchedJob[] = [];
    for (const [jobId, r] of this.reservations) {
      if (this.withinDeadline(r, nowMs)) continue;
      this.reservations.delete(jobId);
      unlaunched.push({ jobId, ...r });
    }
    this.forgetEnded(runningJobIds);
    return unlaunched;
  }

  /**
   * Gives up on every job accepted and not running, deadline or not: the worker is closing, so
   * they will not run here. Their callers are to be answered busy.
   */
  abandonPending(runningJobIds: ReadonlySet<string>): UnlaunchedJob[] {
    this.forgetStarted(runningJobIds);
    const unlaunched = [...this.reservations].map(([jobId, r]) => ({ jobId, ...r }));
    this.reservations.clear();
    this.forgetEnded(runningJobIds);
    return unlaunched;
  }

  /** From now on every offer is declined. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private withinDeadline(r: Reservation, nowMs: number): boolean {
    return nowMs - r.acceptedAtMs <= this.opts.launchDeadlineMs;
  }

  private forgetStarted(runningJobIds: ReadonlySet<string>): void {
    for (const id of this.reservations.keys())
      if (runningJobIds.has(id)) this.reservations.delete(id);
  }

  /** Forgets the channel of jobs neither reserved nor running (ended, or given up on). */
  private forgetEnded(runningJobIds: ReadonlySet<string>): void {
    for (const id of this.channels.keys())
      if (!runningJobIds.has(id) && !this.reservations.has(id)) this.channels.delete(id);
  }

  /** Browser calls running or holding a seat. */
  private webCalls(runningJobIds: ReadonlySet<string>, nowMs: number): number {
    let n = 0;
    for (const [id, channel] of this.channels) {
      if (channel !== 'web') continue;
      const r = this.reservations.get(id);
      if (runningJobIds.has(id) || (r !== undefined && this.withinDeadline(r, nowMs))) n++;
    }
    return n;
  }
}
