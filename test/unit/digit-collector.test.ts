import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  collectDigits,
  DEFAULT_MAX_DIGITS,
  DEFAULT_TOTAL_TIMEOUT_MS,
  DigitCollector,
  MAX_DIGITS_LIMIT,
  MAX_TOTAL_TIMEOUT_MS,
  type DtmfSource,
} from '../../src/dtmf/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';

const opts = { firstDigitTimeoutMs: 5_000, interDigitTimeoutMs: 2_000 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DigitCollector', () => {
  it.each([
    ['terminated by #', {}, '1234#', { status: 'complete', digits: '1234' }],
    [
      'fixed length',
      { maxDigits: 4, terminator: null },
      '12345',
      { status: 'complete', digits: '1234' },
    ],
    ['* as terminator', { terminator: '*' as const }, '12*', { status: 'complete', digits: '12' }],
    ['# alone is no input', {}, '#', { status: 'timeout', digits: '' }],
    ['ignores non-DTMF keys', {}, '1x2#', { status: 'complete', digits: '12' }],
  ])('%s', async (_name, extra, keys, expected) => {
    const c = new DigitCollector({ ...opts, ...extra });
    for (const k of keys) c.push(k);
    await expect(c.result).resolves.toEqual(expected);
  });

  it('times out when the first digit never comes', async () => {
    const c = new DigitCollector(opts);
    await vi.advanceTimersByTimeAsync(4_999);
    c.push('7');
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(c.result).resolves.toEqual({ status: 'timeout', digits: '7' });
  });

  it('restarts the inter-digit timer on every key', async () => {
    const c = new DigitCollector(opts);
    for (const k of '123') {
      c.push(k);
      await vi.advanceTimersByTimeAsync(1_900);
    }
    c.push('#');
    await expect(c.result).resolves.toEqual({ status: 'complete', digits: '123' });
  });

  it('stops when the call ends', async () => {
    const abort = new AbortController();
    const c = new DigitCollector(opts, abort.signal);
    c.push('9');
    abort.abort();
    await expect(c.result).resolves.toEqual({ status: 'aborted', digits: '9' });
  });
});

describe('collectDigits', () => {
  function keypad(): { source: DtmfSource; press: (keys: string) => void } {
    let listener: ((k: string) => void) | undefined;
    return {
      source: (onKey) => {
        listener = onKey;
        return () => (listener = undefined);
      },
      press: (keys) => {
        for (const k of keys) listener?.(k);
      },
    };
  }

  it('re-prompts after a silent attempt and succeeds on the second', async () => {
    const pad = keypad();
    const prompts: number[] = [];
    const result = collectDigits(pad.source, (n) => prompts.push(n), { ...opts, attempts: 3 });
    await vi.advanceTimersByTimeAsync(5_000);
    pad.press('42#');
    await expect(result).resolves.toEqual({ status: 'complete', digits: '42', attempts: 2 });
    expect(prompts).toEqual([1, 2]);
  });

  it('gives up after the last attempt', async () => {
    const pad = keypad();
    const result = collectDigits(pad.source, () => undefined, { ...opts, attempts: 2 });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(result).resolves.toEqual({ status: 'timeout', digits: '', attempts: 2 });
  });
});

describe('maximum number of digits', () => {
  it('ends at DEFAULT_MAX_DIGITS when a request names none', async () => {
    const c = new DigitCollector({ ...opts, terminator: null });
    for (const k of '1'.repeat(DEFAULT_MAX_DIGITS + 5)) c.push(k);
    await expect(c.result).resolves.toEqual({
      status: 'complete',
      digits: '1'.repeat(DEFAULT_MAX_DIGITS),
    });
    expect(DEFAULT_MAX_DIGITS).toBe(20);
  });

  it('a request may ask for more, up to MAX_DIGITS_LIMIT', async () => {
    const c = new DigitCollector({ ...opts, terminator: null, maxDigits: MAX_DIGITS_LIMIT });
    for (const k of '2'.repeat(MAX_DIGITS_LIMIT + 1)) c.push(k);
    await expect(c.result).resolves.toEqual({
      status: 'complete',
      digits: '2'.repeat(MAX_DIGITS_LIMIT),
    });
  });

  it.each([
    ['over the hard limit', { maxDigits: MAX_DIGITS_LIMIT + 1 }, /maxDigits must be .* 1 to 64/],
    ['zero', { maxDigits: 0 }, /maxDigits/],
    ['not whole', { maxDigits: 2.5 }, /maxDigits/],
    [
      'a deadline over the hard limit',
      { totalTimeoutMs: MAX_TOTAL_TIMEOUT_MS + 1 },
      /at most 300000/,
    ],
    ['a deadline of 0', { totalTimeoutMs: 0 }, /totalTimeoutMs/],
    ['an endless deadline', { totalTimeoutMs: Infinity }, /totalTimeoutMs/],
  ])('refuses a request with %s', (_name, extra, message) => {
    let error: unknown;
    try {
      new DigitCollector({ ...opts, ...extra });
    } catch (err) {
      error = err;
    }
    expect(isSwitchboardError(error) && error.code).toBe('agent_definition_invalid');
    expect((error as Error).message).toMatch(message);
  });

  it('collectDigits refuses minDigits above maxDigits before prompting', async () => {
    const prompts: number[] = [];
    await expect(
      collectDigits(
        () => () => undefined,
        (n) => prompts.push(n),
        {
          ...opts,
          attempts: 2,
          maxDigits: 4,
          minDigits: 5,
        },
      ),
    ).rejects.toThrow(/minDigits must not be more than maxDigits \(4\)/);
    expect(prompts).toEqual([]);
  });
});

describe('overall deadline', () => {
  function keypad(): { source: DtmfSource; press: (keys: string) => void } {
    let listener: ((k: string) => void) | undefined;
    return {
      source: (onKey) => {
        listener = onKey;
        return () => (listener = undefined);
      },
      press: (keys) => {
        for (const k of keys) listener?.(k);
      },
    };
  }

  it('a lone collector ends at its deadline although the caller keeps typing', async () => {
    const c = new DigitCollector({ ...opts, totalTimeoutMs: 5_000 });
    let settled = false;
    void c.result.then(() => (settled = true));
    // A key every 1.5 s: the inter-digit timer (2 s) never runs out.
    for (const k of '123') {
      c.push(k);
      await vi.advanceTimersByTimeAsync(1_500);
    }
    expect(settled).toBe(false); // 4.5 s
    await vi.advanceTimersByTimeAsync(500);
    await expect(c.result).resolves.toEqual({ status: 'timeout', digits: '123' });
  });

  it('defaults to DEFAULT_TOTAL_TIMEOUT_MS', async () => {
    const c = new DigitCollector({
      ...opts,
      interDigitTimeoutMs: 10_000,
      firstDigitTimeoutMs: 10_000,
    });
    let settled = false;
    void c.result.then(() => (settled = true));
    for (let i = 0; i < 6; i++) {
      c.push('5');
      await vi.advanceTimersByTimeAsync(9_999);
    }
    expect(settled).toBe(false); // 59 994 ms
    await vi.advanceTimersByTimeAsync(DEFAULT_TOTAL_TIMEOUT_MS - 6 * 9_999);
    await expect(c.result).resolves.toEqual({ status: 'timeout', digits: '555555' });
  });

  it('covers every attempt: no new attempt starts after it, the one under way ends', async () => {
    const pad = keypad();
    const prompts: number[] = [];
    const result = collectDigits(pad.source, (n) => prompts.push(n), {
      ...opts,
      attempts: 5,
      totalTimeoutMs: 8_000,
    });
    // Attempt 1 times out silently at 5 s; attempt 2 starts and the caller types slowly.
    await vi.advanceTimersByTimeAsync(5_000);
    pad.press('9');
    await vi.advanceTimersByTimeAsync(1_500);
    pad.press('8');
    await vi.advanceTimersByTimeAsync(1_499);
    let settled = false;
    void result.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false); // 7 999 ms
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toEqual({ status: 'timeout', digits: '98', attempts: 2 });
    expect(prompts).toEqual([1, 2]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline shorter than the attempts ends the collection with the attempts made', async () => {
    const pad = keypad();
    const prompts: number[] = [];
    const result = collectDigits(pad.source, (n) => prompts.push(n), {
      ...opts,
      attempts: 10,
      totalTimeoutMs: 12_000,
    });
    await vi.advanceTimersByTimeAsync(12_000);
    await expect(result).resolves.toEqual({ status: 'timeout', digits: '', attempts: 3 });
    expect(prompts).toEqual([1, 2, 3]);
  });

  it('a collection that finishes in time leaves no timer behind', async () => {
    const pad = keypad();
    const result = collectDigits(pad.source, () => undefined, { ...opts, attempts: 2 });
    pad.press('12#');
    await expect(result).resolves.toEqual({ status: 'complete', digits: '12', attempts: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });
});
