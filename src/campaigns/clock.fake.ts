import type { Clock } from '../call-records/clock.js';

interface Timer {
  atMs: number;
  seq: number;
  resolve: () => void;
}

/**
 * Simulated time for campaign tests: `run(promise)` lets everything that is ready run, then
 * jumps to the next timer, until the promise settles; so an hour of pacing and backoff takes no
 * real time, and every start happens at the instant it would have. Work that waits on real I/O is
 * not waited for: use it with in-memory state (store.fake.ts).
 */
export class SimulatedClock implements Clock {
  private now: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(startMs = Date.parse('2026-03-02T15:00:00Z')) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  sleep(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const timer: Timer = {
        atMs: this.now + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers.delete(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.add(timer);
    });
  }

  /** Runs simulated time until `promise` settles; throws if it never can (nothing is scheduled). */
  async run<T>(promise: Promise<T>, limitMs = 30 * 24 * 3_600_000): Promise<T> {
    const startMs = this.now;
    const state = { settled: false };
    const watched = promise.finally(() => {
      state.settled = true;
    });
    watched.catch(() => undefined);
    for (;;) {
      await settle();
      if (state.settled) return watched;
      const next = [...this.timers].sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (next === undefined)
        throw new Error(
          'simulated time: nothing is scheduled, and the promise has not settled (a hang)',
        );
      if (next.atMs - startMs > limitMs)
        throw new Error(`simulated time: still not settled after ${limitMs} ms`);
      this.advanceTo(next.atMs);
    }
  }

  private advanceTo(atMs: number): void {
    this.now = Math.max(this.now, atMs);
    const due = [...this.timers]
      .filter((t) => t.atMs <= this.now)
      .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    for (const t of due) {
      this.timers.delete(t);
      t.resolve();
    }
  }
}

/** Lets every promise continuation that is ready run (a few turns of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
