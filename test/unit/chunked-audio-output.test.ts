import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { splitAudioFrame } from '../../src/call/chunked-audio-output.js';

/** A frame whose samples count up from `first`, so every piece's content can be checked. */
function rampFrame(samplesPerChannel: number, channels: number, first = 0): AudioFrame {
  const data = Int16Array.from({ length: samplesPerChannel * channels }, (_, i) => first + i);
  return new AudioFrame(data, 24_000, channels, samplesPerChannel);
}

describe('splitAudioFrame', () => {
  it.each<[string, number, number, number, number[]]>([
    ['100 ms at 24 kHz into 20 ms', 2_400, 1, 480, [480, 480, 480, 480, 480]],
    ['a remainder is the last piece', 1_000, 1, 480, [480, 480, 40]],
    ['stereo: pieces counted per channel', 960, 2, 480, [480, 480]],
    ['a frame no longer than a piece stays whole', 480, 1, 480, [480]],
    ['a short frame stays whole', 100, 1, 480, [100]],
  ])('%s', (_name, samples, channels, perPiece, expected) => {
    const frame = rampFrame(samples, channels);
    const pieces = splitAudioFrame(frame, perPiece);
    expect(pieces.map((p) => p.samplesPerChannel)).toEqual(expected);
    for (const p of pieces) {
      expect(p.sampleRate).toBe(24_000);
      expect(p.channels).toBe(channels);
      expect(p.data.length).toBe(p.samplesPerChannel * channels);
    }
    // In order and complete: the pieces put together are the frame.
    expect(Array.from(pieces.flatMap((p) => Array.from(p.data)))).toEqual(Array.from(frame.data));
  });

  it('each piece owns its samples from offset 0 (rtc-node sends a frame by its whole buffer)', () => {
    const pieces = splitAudioFrame(rampFrame(2_400, 1), 480);
    for (const [i, p] of pieces.entries()) {
      expect(p.data.byteOffset).toBe(0);
      expect(p.data.buffer.byteLength).toBe(480 * 2);
      expect(new Int16Array(p.data.buffer)[0]).toBe(i * 480);
    }
  });
});
