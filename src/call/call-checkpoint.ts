import type { CheckpointStore } from '../call-records/index.js';
import { salvageRecord, type CallTracker } from '../call-records/index.js';
import { processStartTicks } from '../worker/process-tree.js';

/**
 * Keeps a call's checkpoint (src/call-records/checkpoint-store.ts) up to date from its tracker:
 * saved at the start, then at most once per `intervalMs` after a change, and removed once the
 * final record is written. If the job process dies, the worker writes the record from it.
 */
export class CallCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly stopListening: () => void;
  private readonly pidStartTicks = processStartTicks(process.pid);

  constructor(
    private readonly opts: {
      store: CheckpointStore;
      tracker: CallTracker;
      room: string;
      callerIdentity: () => string | undefined;
      onError: (err: unknown) => void;
      /** Unit: ms. Default 1000: a killed job loses at most the last second of its call. */
      intervalMs?: number;
    },
  ) {
    this.stopListening = opts.tracker.onChange(() => this.touch());
    this.save();
  }

  private touch(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, this.opts.intervalMs ?? 1_000);
  }

  /** `final`: the state at the end, saved although stopped. */
  private save(final = false): void {
    // Saves run one after another: a late one never overwrites a newer state.
    this.saving = this.saving
      .then(async () => {
        if (this.stopped && !final) return;
        const { tracker } = this.opts;
        const callerIdentity = this.opts.callerIdentity();
        await this.opts.store.save({
          version: 1,
          pid: process.pid,
          ...(this.pidStartTicks === undefined ? {} : { pidStartTicks: this.pidStartTicks }),
          room: this.opts.room,
          ...(callerIdentity === undefined ? {} : { callerIdentity }),
          savedAt: new Date().toISOString(),
          ended: tracker.hasEnded,
          // Always valid, so the worker can read it back (see salvage.ts).
          record: salvageRecord(tracker.toRecord()),
        });
      })
      .catch(this.opts.onError);
  }

  /**
   * Stops saving. With `written` (the final record is durable) the checkpoint is removed;
   * without, it stays for the worker to write the record from.
   */
  async stop(written: boolean): Promise<void> {
    this.stopped = true;
    this.stopListening();
    clearTimeout(this.timer);
    // Not written: the checkpoint gets the call's final state (its outcome) for the worker.
    if (!written) this.save(true);
    await this.saving;
    if (written) await this.opts.store.remove(this.opts.tracker.callId);
  }
}
