import { describe, expect, it } from 'vitest';
import { decodeALaw, decodeMuLaw, g711Rms } from '../support/g711.js';

describe('G.711 decoding (the RTP meter the phone tests rely on)', () => {
  it.each([
    [0xff, 0],
    [0x7f, 0],
    [0x80, 32124],
    [0x00, -32124],
  ])('µ-law %i decodes to %i', (byte, linear) => {
    expect(decodeMuLaw(byte)).toBe(linear);
  });

  it.each([
    [0xd5, 8],
    [0x55, -8],
    [0xaa, 32256],
    [0x2a, -32256],
  ])('A-law %i decodes to %i', (byte, linear) => {
    expect(decodeALaw(byte)).toBe(linear);
  });

  it('measures silence as zero and a full-scale square wave as loud', () => {
    expect(g711Rms(new Uint8Array(160).fill(0xff), 0)).toBe(0);
    const square = new Uint8Array(160).map((_, i) => (i % 2 === 0 ? 0x80 : 0x00));
    expect(g711Rms(square, 0)).toBeCloseTo(32124, 0);
  });
});
