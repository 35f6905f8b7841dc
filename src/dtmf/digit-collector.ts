import { SwitchboardError } from '../errors/index.js';

/**
 * Collects DTMF digits for one prompt: done at `maxDigits`, or at the terminator key, or when the
 * caller stops typing, or at the collection's deadline. Pure: digits are pushed in, time comes
 * from the injected timers, so tests control the clock.
 */
export interface DigitCollectorOptions {
  /**
   * Stop after this many digits (the terminator is not counted). Default: DEFAULT_MAX_DIGITS; at
   * most MAX_DIGITS_LIMIT.
   */
  maxDigits?: number;
  /** Key that ends the input; not part of the result. Default: '#'. null: no terminator. */
  terminator?: '#' | '*' | null;
  /** Time allowed for the first digit (include the prompt's length). Unit: ms. */
  firstDigitTimeoutMs: number;
  /** Time allowed between digits. Unit: ms. */
  interDigitTimeoutMs: number;
  /**
   * The whole collection's deadline: every attempt of `collectDigits`, prompts included (for a
   * lone DigitCollector, its one attempt). Unit: ms. Default: DEFAULT_TOTAL_TIMEOUT_MS; at most
   * MAX_TOTAL_TIMEOUT_MS.
   */
  totalTimeoutMs?: number;
}

/**
 * Digits taken when a request names no `maxDigits`: more than any number a caller types on a
 * keypad (an E.164 number has 15, a card number 19), and a key held down or a line full of tones
 * still ends.
 */
export const DEFAULT_MAX_DIGITS = 20;
/** The most digits a request may ask for; beyond it a tool is not collecting a number. */
export const MAX_DIGITS_LIMIT = 64;
/**
 * A collection's deadline when a request names none: two attempts with their prompts and a
 * caller who types slowly fit; a caller who keeps typing without the terminator does not hold
 * the call. Unit: ms.
 */
export const DEFAULT_TOTAL_TIMEOUT_MS = 60_000;
/** The longest deadline a request may ask for. Unit: ms. */
export const MAX_TOTAL_TIMEOUT_MS = 300_000;

/** A request's limits with their defaults; throws naming the bound a request is outside of. */
export function digitLimits(opts: Pick<DigitCollectorOptions, 'maxDigits' | 'totalTimeoutMs'>): {
  maxDigits: number;
  totalTimeoutMs: number;
} {
  const maxDigits = opts.maxDigits ?? DEFAULT_MAX_DIGITS;
  const totalTimeoutMs = opts.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS;
  if (!Number.isInteger(maxDigits) || maxDigits < 1 || maxDigits > MAX_DIGITS_LIMIT)
    throw invalidRequest(
      `maxDigits must be a whole number from 1 to ${MAX_DIGITS_LIMIT}`,
      maxDigits,
    );
  if (
    !Number.isFinite(totalTimeoutMs) ||
    totalTimeoutMs <= 0 ||
    totalTimeoutMs > MAX_TOTAL_TIMEOUT_MS
  )
    throw invalidRequest(
      `totalTimeoutMs must be more than 0 and at most ${MAX_TOTAL_TIMEOUT_MS}`,
      totalTimeoutMs,
    );
  return { maxDigits, totalTimeoutMs };
}

function invalidRequest(rule: string, value: number): SwitchboardError {
  // A mistake in the tool's code, like callOf outside a call: reported under the same code.
  return new SwitchboardError('agent_definition_invalid', `collectDigits: ${rule} (got ${value}).`);
}

export type DigitResult =
  | { status: 'complete'; digits: string }
  | { status: 'timeout'; digits: string }
  | { status: 'aborted'; digits: string };

export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const DTMF_KEYS = /^[0-9*#A-D]$/;

export class DigitCollector {
  readonly result: Promise<DigitResult>;
  private digits = '';
  private timer: unknown;
  private readonly deadline: unknown;
  private readonly maxDigits: number;
  private settle!: (r: DigitResult) => void;
  private done = false;

  constructor(
    private readonly opts: DigitCollectorOptions,
    signal?: AbortSignal,
    private readonly timers: Timers = realTimers,
  ) {
    const limits = digitLimits(opts);
    this.maxDigits = limits.maxDigits;
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.arm(opts.firstDigitTimeoutMs);
    this.deadline = timers.setTimeout(() => this.finish('timeout'), limits.totalTimeoutMs);
    signal?.addEventListener('abort', () => this.finish('aborted'), { once: true });
    if (signal?.aborted === true) this.finish('aborted');
  }

  /** Ends the input as it stands, as a timeout (the deadline of the whole collection passed). */
  expire(): void {
    this.finish('timeout');
  }

  push(key: string): void {
    if (this.done || !DTMF_KEYS.test(key)) return;
    const terminator = this.opts.terminator === undefined ? '#' : this.opts.terminator;
    if (key === terminator) {
      this.finish(this.digits.length > 0 ? 'complete' : 'timeout');
      return;
    }
    this.digits += key;
    if (this.digits.length >= this.maxDigits) {
      this.finish('complete');
      return;
    }
    this.arm(this.opts.interDigitTimeoutMs);
  }

  private arm(ms: number): void {
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.finish('timeout'), ms);
  }

  private finish(status: DigitResult['status']): void {
    if (this.done) return;
    this.done = true;
    this.timers.clearTimeout(this.timer);
    this.timers.clearTimeout(this.deadline);
    this.settle({ status, digits: this.digits });
  }
}

/** Subscribes to the caller's keys; returns the unsubscribe function. */
export type DtmfSource = (onKey: (key: string) => void) => () => void;

/**
 * Prompts and collects, retrying up to `attempts` times when nothing (or too little) came in, all
 * within `totalTimeoutMs`: at the deadline the attempt under way ends as a timeout with the digits
 * it has, and no other attempt starts. `prompt(attempt)` starts the spoken prompt for that
 * attempt; it must not wait for playout.
 */
export async function collectDigits(
  source: DtmfSource,
  prompt: (attempt: number) => void,
  opts: DigitCollectorOptions & { attempts: number; minDigits?: number },
  signal?: AbortSignal,
  timers: Timers = realTimers,
): Promise<DigitResult & { attempts: number }> {
  const { maxDigits, totalTimeoutMs } = digitLimits(opts);
  const minDigits = opts.minDigits ?? 1;
  if (minDigits > maxDigits)
    throw invalidRequest(`minDigits must not be more than maxDigits (${maxDigits})`, minDigits);
  // An object, not a flag: set from the timer while an attempt is awaited.
  const overall = { expired: false, current: undefined as DigitCollector | undefined };
  const deadline = timers.setTimeout(() => {
    overall.expired = true;
    overall.current?.expire();
  }, totalTimeoutMs);
  let last: DigitResult = { status: 'timeout', digits: '' };
  let attempt = 0;
  try {
    while (attempt < opts.attempts && !overall.expired) {
      attempt++;
      const collector = new DigitCollector(opts, signal, timers);
      overall.current = collector;
      const unsubscribe = source((key) => collector.push(key));
      try {
        prompt(attempt);
        last = await collector.result;
      } finally {
        unsubscribe();
      }
      if (last.status === 'aborted') return { ...last, attempts: attempt };
      if (last.status === 'complete' && last.digits.length >= minDigits)
        return { ...last, attempts: attempt };
    }
  } finally {
    timers.clearTimeout(deadline);
  }
  return { status: 'timeout', digits: last.digits, attempts: attempt };
}
