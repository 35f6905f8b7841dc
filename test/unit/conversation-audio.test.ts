/**
 * The callers' audio that tests and benchmarks speak: each line's reported start and end are
 * where its sound is, so "end of caller speech" and a mid-sentence pause are measured from what
 * the caller actually sends. Needs espeak-ng and sox (what the stack installs), not the stack.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { levelDbfs } from '../../stack/offline-speech/realtime-transcription.js';
import { renderConversation } from '../support/conversation-audio.js';

const RATE = 48_000;

/** Level of 10 ms of the 48 kHz WAV starting at `atS`, in dBFS. */
function levelDb(samples: Int16Array, atS: number): number {
  const from = Math.round(atS * RATE);
  return levelDbfs(samples.subarray(from, from + RATE / 100));
}

describe('renderConversation', () => {
  it('reports each line from its first sound to its last, and a pause as exactly the silence asked for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-render-'));
    const { wav, spoken } = await renderConversation(
      dir,
      [
        { atSeconds: 1, text: 'where are you located' },
        {
          atSeconds: 4,
          text: 'what are',
          continuation: { pauseMs: 400, text: 'your opening hours' },
        },
      ],
      8,
    );
    // A canonical 44-byte header: sox writes one for plain 16-bit PCM.
    const bytes = await readFile(wav);
    await rm(dir, { recursive: true, force: true });
    const samples = new Int16Array(bytes.buffer, bytes.byteOffset + 44, (bytes.length - 44) / 2);
    const [plain, paused] = spoken;
    expect(plain?.startS).toBe(1);
    expect(paused?.startS).toBe(4);
    for (const line of [plain, paused]) {
      if (line === undefined) throw new Error('a line is missing');
      // Sound right at its start and in its last 10 ms; silence (resampling ringing at most) just
      // before and just after.
      expect(levelDb(samples, line.startS)).toBeGreaterThan(-60);
      expect(levelDb(samples, line.endS - 0.01)).toBeGreaterThan(-60);
      expect(levelDb(samples, line.startS - 0.02)).toBeLessThan(-70);
      expect(levelDb(samples, line.endS + 0.01)).toBeLessThan(-70);
    }
    const pause = paused?.pause;
    expect((pause?.endS ?? 0) - (pause?.startS ?? 0)).toBeCloseTo(0.4, 3);
    expect(levelDb(samples, (pause?.startS ?? 0) - 0.01)).toBeGreaterThan(-60);
    expect(levelDb(samples, (pause?.endS ?? 0) + 0.005)).toBeGreaterThan(-60);
    // espeak-ng's ~300 ms of trailing silence is not counted as speech.
    expect((plain?.endS ?? 0) - 1).toBeLessThan(1.2);
  });
});
