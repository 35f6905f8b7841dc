import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { collectDigits, DigitCollector, type DtmfSource } from '../../src/dtmf/index.js';

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
