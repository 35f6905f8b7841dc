import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jsgfGrammar } from './scripted-dialog.js';

const run = promisify(execFile);

/**
 * A real local recognizer: Debian's pocketsphinx with a grammar of the scripted dialog's phrases
 * (a full language model fails on espeak speech over a phone line).
 *
 * Telephone audio has nothing above 4 kHz, which leaves the upper filters of pocketsphinx's
 * 16 kHz acoustic model empty and the search lost ("Final result does not match the grammar").
 * The speech is normalized to -3 dBFS peak and a white-noise floor at -40 dBFS (like a line's
 * comfort noise) is mixed in, which gives those filters the statistics the model expects. Measured
 * on espeak-ng phrases: all demo phrases recognized, telephone band and full band alike; without
 * the noise floor almost none are; with a floor fixed in absolute terms, quiet clips were lost.
 */
const NOISE_FLOOR_AMPLITUDE = 0.01;

export interface Recognition {
  text: string;
  /** Seconds of audio recognized (for usage). */
  durationSeconds: number;
}

export async function recognize(audio: Buffer, signal?: AbortSignal): Promise<Recognition> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-asr-'));
  try {
    const input = join(dir, 'input');
    const speech = join(dir, 'speech.wav');
    const noise = join(dir, 'noise.wav');
    const mixed = join(dir, 'mixed.wav');
    const grammar = join(dir, 'demo.gram');
    await Promise.all([writeFile(input, audio), writeFile(grammar, jsgfGrammar())]);
    const opts = signal === undefined ? {} : { signal };
    await run(
      'sox',
      [
        '-q',
        input,
        '-r',
        '16000',
        '-c',
        '1',
        '-b',
        '16',
        '-e',
        'signed-integer',
        speech,
        'norm',
        '-3',
        'pad',
        '0.3',
        '0.3',
      ],
      opts,
    );
    const { stdout: duration } = await run('soxi', ['-D', speech], opts);
    const seconds = Number(duration.trim());
    await run(
      'sox',
      [
        // Repeatable: the same noise for the same length, so the same audio is always heard the
        // same way (with fresh noise each time, a marginal phrase passed or failed at random).
        '-R',
        '-q',
        '-n',
        '-r',
        '16000',
        '-c',
        '1',
        '-b',
        '16',
        noise,
        'synth',
        String(seconds),
        'whitenoise',
        'vol',
        String(NOISE_FLOOR_AMPLITUDE),
      ],
      opts,
    );
    await run('sox', ['-q', '-m', speech, noise, mixed], opts);
    const { stdout } = await run(
      'pocketsphinx_continuous',
      ['-infile', mixed, '-jsgf', grammar, '-logfn', '/dev/null'],
      opts,
    );
    return {
      text: stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' '),
      durationSeconds: Math.max(0, seconds - 0.6),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
