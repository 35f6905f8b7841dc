/**
 * Whether the worker takes a call it is offered. The worker decides, not only livekit-server:
 * the load it reports can be 2.5 s old, two offers can arrive together, and LiveKit
 * Cloud replaces a custom load function with its own. So the limit on concurrent calls holds here.
 *
 * A job accepted but not yet running (the server's assignment and the job process start take a
 * moment) is counted through a reservation until it shows up among the running jobs, or until
 * `reservationTtlMs` passes (the assignment never came).
 */
export type AdmissionDecision =
  { accept: true } | { accept: false; reason: 'draining' | 'at_call_limit' | 'at_cpu_limit' };

export class Admission {
  private readonly reservations = new Map<string, number>();
  private draining = false;

  constructor(
    private readonly opts: {
      maxCalls: number;
      /** Usage (1 = full) from CPU alone, as last measured. */
      cpuUsage: () => number;
      reservationTtlMs?: number;
    },
  ) {}

  /** Decides on job `jobId` at `nowMs`, with the ids of the jobs running now. */
  decide(jobId: string, runningJobIds: ReadonlySet<string>, nowMs: number): AdmissionDecision {
    if (this.draining) return { accept: false, reason: 'draining' };
    if (runningJobIds.size + this.pendingCount(runningJobIds, nowMs) >= this.opts.maxCalls)
      return { accept: false, reason: 'at_call_limit' };
    if (this.opts.cpuUsage() >= 1) return { accept: false, reason: 'at_cpu_limit' };
    this.reservations.set(jobId, nowMs);
    return { accept: true };
  }

  /** Jobs accepted that are not running yet (and not given up on). */
  pendingCount(runningJobIds: ReadonlySet<string>, nowMs: number): number {
    const ttl = this.opts.reservationTtlMs ?? 15_000;
    for (const [id, at] of this.reservations) {
      if (runningJobIds.has(id) || nowMs - at > ttl) this.reservations.delete(id);
    }
    return this.reservations.size;
  }

  /** From now on every offer is declined. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
