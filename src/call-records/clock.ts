import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Time as the record sinks see it: injected so tests decide when a backoff or a resend interval
 * has passed instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
  /**
   * Resolves after `ms`; rejects when `signal` aborts first. `ref: false` lets the process exit
   * while only this wait is left (for waits whose work can just as well happen in a later process).
   */
  sleep(ms: number, options?: { signal?: AbortSignal; ref?: boolean }): Promise<void>;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  sleep: (ms, options = {}) =>
    sleep(ms, undefined, {
      ref: options.ref ?? true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }),
};
