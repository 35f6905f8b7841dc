import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { writeSilence } from './conversation-audio.js';

/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, driven by playwright-core (no browser download). The flags keep it from
 * reaching any outside service and give it a fake microphone that plays `micWav`. A caller may run
 * it through a wrapper (`executablePath`, e.g. one that enters another network namespace) and add
 * flags.
 */
export async function launchChromium(
  micWav: string,
  opts: { executablePath?: string; extraArgs?: string[] } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: opts.executablePath ?? CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${micWav}`,
      '--autoplay-policy=no-user-gesture-required',
      ...(opts.extraArgs ?? []),
    ],
  });
}

/** A WAV file of digital silence for the fake microphone (Chromium's default fake mic beeps). */
export async function writeSilenceWav(dir: string, seconds = 5): Promise<string> {
  const file = join(dir, 'silence.wav');
  await writeSilence(file, 48_000, seconds);
  return file;
}
