/**
 * The offline stand-in's recognizer against its own grammars: every phrase of the scripted dialog,
 * spoken by espeak-ng, must come back as itself, over the phone band (8 kHz µ-law, what livekit-sip
 * relays) and the browser band (48 kHz), under `phrases` (the HTTP endpoint's grammar) and under
 * `spans` (realtime finals, which also allow the start or the end of a phrase: a whole phrase must
 * not come back as a part of itself). A phrase added to the dialog that a grammar confuses with
 * another one ("i am too busy" once took "send the tones") fails here by name, instead of as a
 * missing tool call in some end-to-end call. The recognizer's noise floor is repeatable and each
 * request is decoded as by a fresh decoder, so a phrase is heard the same way in every run. In the
 * e2e project because it needs the tools the stack installs (espeak-ng, sox, pocketsphinx and
 * python3-pocketsphinx); it does not use the stack.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PocketsphinxDecoder, recognize } from '../../stack/offline-speech/recognizer.js';
import { grammarPhrases } from '../../stack/offline-speech/scripted-dialog.js';

const run = promisify(execFile);

const BANDS = [
  { band: 'phone (8 kHz µ-law)', args: ['-r', '8000', '-c', '1', '-e', 'u-law', '-b', '8'] },
  { band: 'browser (48 kHz)', args: ['-r', '48000', '-c', '1', '-b', '16'] },
];

const SEARCHES = ['phrases', 'spans'] as const;

let dir: string;
let decoder: PocketsphinxDecoder;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-grammar-'));
  decoder = new PocketsphinxDecoder();
});

afterAll(async () => {
  await decoder.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the offline recognizer (pocketsphinx, not AI) on espeak-ng speech', () => {
  const cases = BANDS.flatMap(({ band, args }) =>
    SEARCHES.flatMap((search) =>
      grammarPhrases().map((phrase) => ({ band, args, search, phrase })),
    ),
  );

  it.each(cases)(
    '$band, $search grammar: $phrase is recognized as itself',
    async ({ band, args, search, phrase }) => {
      const name = `${band.split(' ')[0]}-${search}-${phrase.replaceAll(' ', '_')}`;
      const spoken = join(dir, `${name}.wav`);
      const heard = join(dir, `${name}-band.wav`);
      await run('espeak-ng', ['-v', 'en-us', '-w', spoken, phrase]);
      await run('sox', [spoken, ...args, heard]);
      const result = await recognize(await readFile(heard), decoder, { search });
      expect(result.text).toBe(phrase);
    },
  );
});
