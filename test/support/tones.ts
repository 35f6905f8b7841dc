import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Raw G.711 µ-law (SIPp's RTP stream format) of a sine tone, `seconds` long, at -10 dBFS. */
export async function writeToneUlaw(
  dir: string,
  frequencyHz: number,
  seconds: number,
): Promise<string> {
  const file = join(dir, `tone-${frequencyHz}.ulaw`);
  await run('sox', [
    '-n',
    '-r',
    '8000',
    '-c',
    '1',
    '-t',
    'raw',
    '-e',
    'u-law',
    '-b',
    '8',
    file,
    'synth',
    String(seconds),
    'sine',
    String(frequencyHz),
    'vol',
    '0.3',
  ]);
  return file;
}

/** Mixes a tone into a µ-law recording from `fromSeconds` on (the recording keeps its length). */
export async function addToneFrom(
  ulaw: string,
  fromSeconds: number,
  frequencyHz: number,
): Promise<string> {
  const raw = ['-t', 'raw', '-e', 'u-law', '-b', '8', '-r', '8000', '-c', '1'];
  const out = ulaw.replace(/\.ulaw$/, `-tone${frequencyHz}.ulaw`);
  const tone = ulaw.replace(/\.ulaw$/, `-tone${frequencyHz}.wav`);
  // One byte per sample at 8 kHz.
  const seconds = (await stat(ulaw)).size / 8000 - fromSeconds;
  await writeDelayedTone(tone, 8000, seconds, frequencyHz, fromSeconds);
  await run('sox', ['-m', ...raw, ulaw, tone, ...raw, out]);
  return out;
}

/**
 * Mixes a beep into a µ-law recording: a -10 dBFS sine `seconds` long from `atSeconds`, as a
 * voicemail sounds its tone (the recording keeps its length).
 */
export async function addBeep(
  ulaw: string,
  atSeconds: number,
  seconds: number,
  frequencyHz: number,
): Promise<string> {
  const raw = ['-t', 'raw', '-e', 'u-law', '-b', '8', '-r', '8000', '-c', '1'];
  const out = ulaw.replace(/\.ulaw$/, `-beep${frequencyHz}.ulaw`);
  const beep = ulaw.replace(/\.ulaw$/, `-beep${frequencyHz}.wav`);
  await writeDelayedTone(beep, 8000, seconds, frequencyHz, atSeconds);
  await run('sox', ['-m', ...raw, ulaw, beep, ...raw, out]);
  return out;
}

/** The same for a 48 kHz WAV (Chromium's fake microphone). */
export async function addToneToWav(
  wav: string,
  fromSeconds: number,
  frequencyHz: number,
): Promise<string> {
  const out = wav.replace(/\.wav$/, `-tone${frequencyHz}.wav`);
  const tone = wav.replace(/\.wav$/, `-only-tone${frequencyHz}.wav`);
  const { stdout } = await run('soxi', ['-D', wav]);
  const seconds = Number(stdout.trim()) - fromSeconds;
  await writeDelayedTone(tone, 48_000, seconds, frequencyHz, fromSeconds);
  await run('sox', ['-m', wav, tone, out]);
  return out;
}

/** A 16-bit WAV of silence for `delaySeconds`, then a -10 dBFS sine for `seconds`. */
async function writeDelayedTone(
  file: string,
  sampleRate: number,
  seconds: number,
  frequencyHz: number,
  delaySeconds: number,
): Promise<void> {
  await run('sox', [
    '-n',
    '-r',
    String(sampleRate),
    '-c',
    '1',
    '-b',
    '16',
    file,
    'synth',
    String(seconds),
    'sine',
    String(frequencyHz),
    'vol',
    '0.3',
    'pad',
    String(delaySeconds),
  ]);
}
