import type { Clock } from './clock.js';

interface PendingSleep {
  untilMs: number;
  ms: number;
  resolve: () => void;
}

/**
 * A clock that moves only when told: `advance(ms)` fires every sleep that is due. Sleeps shorter
 * than `autoAdvanceBelowMs` pass on their own (time jumps forward on the next turn of the event
 * loop), so retry backoffs take no real time while a longer resend interval waits for the test.
 */
export class FakeClock implements Clock {
  private now: number;
  private readonly autoAdvanceBelowMs: number;
  private readonly pending = new Set<PendingSleep>();
  /** Every duration asked for, in order, including sleeps that were aborted. */
  readonly sleeps: number[] = [];

  constructor(options: { startMs?: number; autoAdvanceBelowMs?: number } = {}) {
    this.now = options.startMs ?? Date.parse('2026-01-01T00:00:00Z');
    this.autoAdvanceBelowMs = options.autoAdvanceBelowMs ?? 0;
  }

  nowMs(): number {
    return this.now;
  }

  /** Durations of the sleeps still waiting, in the order they were asked for. */
  get pendingSleeps(): number[] {
    return [...this.pending].map((s) => s.ms);
  }

  sleep(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.sleeps.push(ms);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const entry: PendingSleep = {
        untilMs: this.now + ms,
        ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.pending.delete(entry);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.add(entry);
      if (ms < this.autoAdvanceBelowMs)
        setImmediate(() => {
          if (this.pending.has(entry)) this.advanceTo(entry.untilMs);
        });
    });
  }

  advance(ms: number): void {
    this.advanceTo(this.now + ms);
  }

  private advanceTo(targetMs: number): void {
    this.now = Math.max(this.now, targetMs);
    const due = [...this.pending]
      .filter((s) => s.untilMs <= this.now)
      .sort((a, b) => a.untilMs - b.untilMs);
    for (const s of due) {
      this.pending.delete(s);
      s.resolve();
    }
  }
}
