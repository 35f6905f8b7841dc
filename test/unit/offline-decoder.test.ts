/**
 * The offline speech server's pocketsphinx decoder process (stack/offline-speech/decoder.py) and
 * its owner in recognizer.ts: started on the first request, one request at a time, a timeout per
 * request, a new process after one died, and `close()`; the noise floor mixed into what it hears.
 * Plus the grammars it is started with.
 * Needs espeak-ng, sox and python3-pocketsphinx (what the stack installs), not the stack.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { synthesizePcm } from '../../stack/offline-speech/espeak.js';
import {
  DECODER_SAMPLE_RATE,
  PocketsphinxDecoder,
  recognize,
  recognizerGrammars,
  spanGrammar,
  withNoiseFloor,
} from '../../stack/offline-speech/recognizer.js';
import { grammarPhrases, jsgfGrammar } from '../../stack/offline-speech/scripted-dialog.js';

const PHRASE = 'book an appointment for tomorrow morning';
const silence16k = (seconds: number) => Buffer.alloc(DECODER_SAMPLE_RATE * 2 * seconds);

/** Whether a process with this pid still exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** OpenAI's pcm format (what espeak.ts makes) as a WAV file, for `recognize`. */
function wav24k(pcm: Buffer): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(24_000, 24);
  header.writeUInt32LE(48_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

let privateTmp: string;
let savedTmpdir: string | undefined;
let phraseWav: Buffer;
const decoders: PocketsphinxDecoder[] = [];

/** A decoder closed after the test, whatever happens in it. */
function newDecoder(opts: ConstructorParameters<typeof PocketsphinxDecoder>[0] = {}) {
  const decoder = new PocketsphinxDecoder(opts);
  decoders.push(decoder);
  return decoder;
}

beforeAll(async () => {
  // The grammar files land here, so "nothing left behind" is checkable.
  savedTmpdir = process.env.TMPDIR;
  privateTmp = await mkdtemp(join(tmpdir(), 'sb-decoder-test-'));
  process.env.TMPDIR = privateTmp;
  phraseWav = wav24k(await synthesizePcm(PHRASE, { wordsPerMinute: 175 }));
});

afterEach(async () => {
  await Promise.all(decoders.splice(0).map((d) => d.close()));
});

afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await rm(privateTmp, { recursive: true, force: true });
});

describe('the pocketsphinx decoder process (not AI)', () => {
  it('starts at the first request, recognizes with each grammar, and keeps running', async () => {
    const decoder = newDecoder();
    expect(decoder.pid).toBeUndefined();
    for (const search of ['phrases', 'spans'] as const) {
      expect((await recognize(phraseWav, decoder, { search })).text).toBe(PHRASE);
    }
    // Partials: the prefix grammar hears the start of the phrase.
    expect(PHRASE).toContain((await recognize(phraseWav, decoder, { search: 'prefixes' })).text);
    expect(await decoder.decode(silence16k(1), 'phrases')).toBe('');
    expect(decoder.starts).toBe(1);
    expect(alive(decoder.pid!)).toBe(true);
    // The grammar files were read at the start and removed.
    await expect.poll(() => readdir(privateTmp)).toEqual([]);
  });

  it('hears a clip the same way whatever it decoded before', async () => {
    const decoder = newDecoder();
    const first = await recognize(phraseWav, decoder, { search: 'spans' });
    await decoder.decode(silence16k(2), 'prefixes');
    await recognize(wav24k(await synthesizePcm('goodbye', { wordsPerMinute: 175 })), decoder);
    expect(await recognize(phraseWav, decoder, { search: 'spans' })).toEqual(first);
  });

  it('answers requests in order, finals before partials not yet sent', async () => {
    const decoder = newDecoder();
    await decoder.decode(silence16k(0.5), 'phrases'); // started
    const settled: string[] = [];
    const track = (name: string, p: Promise<string>) => p.then(() => settled.push(name));
    await Promise.all([
      track('first (sent at once)', decoder.decode(silence16k(3), 'phrases')),
      track('partial', decoder.decode(silence16k(0.5), 'prefixes', { priority: 'low' })),
      track('final 1', decoder.decode(silence16k(0.5), 'spans')),
      track('final 2', decoder.decode(silence16k(0.5), 'spans')),
    ]);
    expect(settled).toEqual(['first (sent at once)', 'final 1', 'final 2', 'partial']);
  });

  it('refuses an unknown grammar at once, and reports a request the decoder could not take', async () => {
    const decoder = newDecoder();
    await expect(decoder.decode(silence16k(1), 'nonsense')).rejects.toThrow(
      'no grammar named "nonsense" (have phrases, prefixes, spans)',
    );
    expect(decoder.starts).toBe(0);
    await expect(decoder.decode(Buffer.alloc(3), 'phrases')).rejects.toThrow(
      'the pocketsphinx decoder failed: 16-bit PCM needs an even number of bytes',
    );
    const pid = decoder.pid;
    expect(await decoder.decode(silence16k(1), 'phrases')).toBe('');
    expect(decoder.pid).toBe(pid);
  });

  it('stops a decoder that does not answer in time; the next request starts a new one', async () => {
    const decoder = newDecoder();
    await decoder.decode(silence16k(0.5), 'phrases');
    const pid = decoder.pid!;
    await expect(decoder.decode(silence16k(20), 'phrases', { timeoutMs: 1 })).rejects.toThrow(
      new RegExp(
        `^the pocketsphinx decoder \\(pid ${pid}\\) did not answer request \\d+ within 1 ms`,
      ),
    );
    await expect.poll(() => alive(pid)).toBe(false);
    expect(await decoder.decode(silence16k(0.5), 'phrases')).toBe('');
    expect(decoder.pid).not.toBe(pid);
    expect(decoder.starts).toBe(2);
  });

  it('fails the request a dying decoder was decoding, and restarts for the next one', async () => {
    const decoder = newDecoder();
    await decoder.decode(silence16k(0.5), 'phrases');
    const pid = decoder.pid!;
    const inFlight = decoder.decode(silence16k(20), 'phrases');
    const queued = recognize(phraseWav, decoder);
    process.kill(pid, 'SIGKILL'); // our own child, by its pid
    await expect(inFlight).rejects.toThrow(
      `the pocketsphinx decoder (pid ${pid}) was killed by SIGKILL`,
    );
    expect((await queued).text).toBe(PHRASE);
    expect(decoder.pid).not.toBe(pid);
    expect(decoder.starts).toBe(2);
  });

  it('drops an aborted request: not sent if still waiting, its answer ignored if being decoded', async () => {
    const decoder = newDecoder();
    await decoder.decode(silence16k(0.5), 'phrases');
    const beingDecoded = new AbortController();
    const waiting = new AbortController();
    const first = decoder.decode(silence16k(5), 'phrases', { signal: beingDecoded.signal });
    const second = decoder.decode(silence16k(5), 'phrases', { signal: waiting.signal });
    const third = decoder.decode(silence16k(0.5), 'spans');
    beingDecoded.abort(new Error('utterance ended'));
    waiting.abort(new Error('connection closed'));
    await expect(first).rejects.toThrow('utterance ended');
    await expect(second).rejects.toThrow('connection closed');
    expect(await third).toBe('');
    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    await expect(
      decoder.decode(silence16k(1), 'phrases', { signal: aborted.signal }),
    ).rejects.toThrow('already');
  });

  it('close() ends the process by its pid, fails what waits, and refuses new requests', async () => {
    const decoder = newDecoder();
    await decoder.decode(silence16k(0.5), 'phrases');
    const pid = decoder.pid!;
    const failed = Promise.all(
      [decoder.decode(silence16k(20), 'phrases'), decoder.decode(silence16k(1), 'phrases')].map(
        (request) => expect(request).rejects.toThrow('the pocketsphinx decoder was closed'),
      ),
    );
    await decoder.close();
    expect(alive(pid)).toBe(false);
    expect(decoder.pid).toBeUndefined();
    await failed;
    await expect(decoder.decode(silence16k(1), 'phrases')).rejects.toThrow(
      'the pocketsphinx decoder is closed',
    );
    await expect.poll(() => readdir(privateTmp)).toEqual([]);
  });

  it('fails every waiting request when the decoder cannot start, and tries again for the next', async () => {
    const missing = newDecoder({ python: '/nonexistent/python3' });
    await expect(missing.decode(silence16k(1), 'phrases')).rejects.toThrow(
      /could not run \/nonexistent\/python3: spawn \/nonexistent\/python3 ENOENT/,
    );
    const broken = newDecoder({ script: ['-c', 'import sys; sys.exit("no pocketsphinx here")'] });
    const waiting = [
      broken.decode(silence16k(1), 'phrases'),
      broken.decode(silence16k(1), 'spans'),
    ];
    for (const request of waiting) {
      await expect(request).rejects.toThrow(/exited with code 1: no pocketsphinx here$/);
    }
    await expect(broken.decode(silence16k(1), 'phrases')).rejects.toThrow(/no pocketsphinx here/);
    expect(broken.starts).toBe(2);
    const silent = newDecoder({
      script: ['-c', 'import time; time.sleep(30)'],
      startTimeoutMs: 300,
    });
    await expect(silent.decode(silence16k(1), 'phrases')).rejects.toThrow(
      /did not load within 300 ms$/,
    );
    await expect.poll(() => readdir(privateTmp)).toEqual([]);
  });
});

describe('the recognizer grammars', () => {
  it('has the dialog grammar for whole phrases, prefixes for partials, spans for finals', () => {
    const grammars = recognizerGrammars();
    expect(grammars.phrases).toBe(jsgfGrammar());
    expect(Object.keys(grammars)).toEqual(['phrases', 'prefixes', 'spans']);
    for (const phrase of grammarPhrases()) expect(grammars.spans).toContain(` ${phrase} `);
  });

  it('spans: every phrase, then its word-prefixes and its suffixes beyond the first word, once', () => {
    expect(spanGrammar(['what are you here', 'are you'])).toBe(
      '#JSGF V1.0;\ngrammar spans;\npublic <utterance> = what are you here | are you | what | what are | what are you | you here | here | are;\n',
    );
  });
});

describe('the noise floor', () => {
  it('is the same for the same audio, mixes half each as sox -m does, and stays within its level', () => {
    const loud = Buffer.alloc(2 * 1000);
    for (let i = 0; i < 1000; i++) loud.writeInt16LE(i % 2 === 0 ? 20_000 : -20_000, i * 2);
    const once = withNoiseFloor(loud);
    expect(withNoiseFloor(loud)).toEqual(once);
    const quiet = withNoiseFloor(Buffer.alloc(2 * 16_000));
    let peak = 0;
    let sumSquares = 0;
    for (let i = 0; i < 16_000; i++) {
      const v = quiet.readInt16LE(i * 2);
      peak = Math.max(peak, Math.abs(v));
      sumSquares += v * v;
    }
    // Uniform noise of amplitude 0.01 halved: peak at most 164, RMS 0.005/sqrt(3) of full scale.
    expect(peak).toBeLessThanOrEqual(164);
    expect(peak).toBeGreaterThan(140);
    expect(Math.sqrt(sumSquares / 16_000)).toBeCloseTo((0.005 * 32767) / Math.sqrt(3), -1);
    for (let i = 0; i < 1000; i++) {
      const expected = (i % 2 === 0 ? 20_000 : -20_000) / 2;
      expect(Math.abs(once.readInt16LE(i * 2) - expected)).toBeLessThanOrEqual(164);
    }
  });
});
