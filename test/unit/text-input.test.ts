/**
 * A page (or a script with a token) sending chat messages to the agent: off unless the line asks,
 * and then bounded before anything is buffered.
 */
import { describe, expect, it } from 'vitest';
import { readBoundedText, textInputOf } from '../../src/call/text-input.js';

async function* chunks(...parts: string[]): AsyncIterable<string> {
  for (const p of parts) yield p;
}

describe('text input of a line', () => {
  it.each([
    ['no option: off', {}, undefined],
    ['bounded', { textInput: { maxChars: 200 } }, { maxChars: 200 }],
    ['no bound: off', { textInput: {} }, undefined],
    ['beyond the largest bound: off', { textInput: { maxChars: 1_000_000 } }, undefined],
  ])('%s', (_name, options, expected) => {
    expect(textInputOf(options)).toEqual(expected);
  });
});

describe('readBoundedText', () => {
  it('reads a message within the bound', async () => {
    expect(await readBoundedText(chunks('what are ', 'your hours'), 19)).toEqual({
      ok: true,
      text: 'what are your hours',
    });
  });

  it('stops reading at the first chunk past the bound', async () => {
    let read = 0;
    async function* counted() {
      for (const c of ['x'.repeat(10), 'y'.repeat(10), 'z'.repeat(10)]) {
        read++;
        yield c;
      }
    }
    expect(await readBoundedText(counted(), 15)).toEqual({ ok: false, reason: 'too_long' });
    expect(read).toBe(2);
  });
});
