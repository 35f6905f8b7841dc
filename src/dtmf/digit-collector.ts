/**
 * Collects DTMF digits for one prompt: done at `maxDigits`, or at the terminator key, or when the
 * caller stops typing. Pure: digits are pushed in, time comes from the injected timers, so tests
 * control the clock.
 */
export interface DigitCollectorOptions {
  /** Stop after this many digits (the terminator is not counted). Default: no limit. */
  maxDigits?: number;
  /** Key that ends the input; not part of the result. Default: '#'. null: no terminator. */
  terminator?: '#' | '*' | null;
  /** Time allowed for the first digit (include the prompt's length). Unit: ms. */
  firstDigitTimeoutMs: number;
  /** Time allowed between digits. Unit: ms. */
  interDigitTimeoutMs: number;
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
  private settle!: (r: DigitResult) => void;
  private done = false;

  constructor(
    private readonly opts: DigitCollectorOptions,
    signal?: AbortSignal,
    private readonly timers: Timers = realTimers,
  ) {
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.arm(opts.firstDigitTimeoutMs);
    signal?.addEventListener('abort', () => this.finish('aborted'), { once: true });
  }

  push(key: string): void {
    if (this.done || !DTMF_KEYS.test(key)) return;
    const terminator = this.opts.terminator === undefined ? '#' : this.opts.terminator;
    if (key === terminator) {
      this.finish(this.digits.length > 0 ? 'complete' : 'timeout');
      return;
    }
    this.digits += key;
    if (this.opts.maxDigits !== undefined && this.digits.length >= this.opts.maxDigits) {
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
    this.settle({ status, digits: this.digits });
  }
}

/** Subscribes to the caller's keys; returns the unsubscribe function. */
export type DtmfSource = (onKey: (key: string) => void) => () => void;

/**
 * Prompts and collects, retrying up to `attempts` times when nothing (or too little) came in.
 * `prompt(attempt)` starts the spoken prompt for that attempt; it must not wait for playout.
 */
export async function collectDigits(
  source: DtmfSource,
  prompt: (attempt: number) => void,
  opts: DigitCollectorOptions & { attempts: number; minDigits?: number },
  signal?: AbortSignal,
  timers?: Timers,
): Promise<DigitResult & { attempts: number }> {
  let last: DigitResult = { status: 'timeout', digits: '' };
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    const collector = new DigitCollector(opts, signal, timers);
    const unsubscribe = source((key) => collector.push(key));
    try {
      prompt(attempt);
      last = await collector.result;
    } finally {
      unsubscribe();
    }
    if (last.status === 'aborted') return { ...last, attempts: attempt };
    if (last.status === 'complete' && last.digits.length >= (opts.minDigits ?? 1))
      return { ...last, attempts: attempt };
  }
  return { status: 'timeout', digits: last.digits, attempts: opts.attempts };
}
