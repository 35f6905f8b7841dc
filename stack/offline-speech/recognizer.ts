import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { grammarPhrases } from './scripted-dialog.js';

const run = promisify(execFile);

/**
 * A real local recognizer: Debian's pocketsphinx with a grammar of the scripted dialog's phrases
 * (a full language model fails on espeak speech over a phone line). Not AI.
 *
 * Telephone audio has nothing above 4 kHz, which leaves the upper filters of pocketsphinx's
 * 16 kHz acoustic model empty and the search lost ("Final result does not match the grammar").
 * The speech is normalized to -3 dBFS peak and a white-noise floor at -40 dBFS (like a line's
 * comfort noise) is mixed in, which gives those filters the statistics the model expects. Measured
 * on espeak-ng phrases: all demo phrases recognized, telephone band and full band alike; without
 * the noise floor almost none are; with a floor fixed in absolute terms, quiet clips were lost.
 */
const NOISE_FLOOR_AMPLITUDE = 0.01;

/**
 * `pcm` (16-bit mono) mixed with white noise of NOISE_FLOOR_AMPLITUDE, half each, as `sox -m`
 * mixes two inputs. The noise is the same for every call (a fixed seed): the same audio is always
 * heard the same way (with fresh noise each time, a marginal phrase passed or failed at random).
 */
export function withNoiseFloor(pcm: Buffer): Buffer {
  const samples = Math.floor(pcm.length / 2);
  const out = Buffer.alloc(samples * 2);
  const noise = uniformNoise(NOISE_SEED);
  for (let i = 0; i < samples; i++) {
    const mixed = Math.round(
      (pcm.readInt16LE(i * 2) + noise() * NOISE_FLOOR_AMPLITUDE * 32767) / 2,
    );
    out.writeInt16LE(Math.max(-32768, Math.min(32767, mixed)), i * 2);
  }
  return out;
}

const NOISE_SEED = 0x5eed;

/** Uniform in [-1, 1) from a seed (mulberry32): sox's `synth whitenoise` is uniform too. */
function uniformNoise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/** The sample rate of pocketsphinx's en-us acoustic model, and of the PCM the decoder takes. */
export const DECODER_SAMPLE_RATE = 16_000;

function jsgf(name: string, alternatives: Iterable<string>): string {
  return `#JSGF V1.0;\ngrammar ${name};\npublic <utterance> = ${[...alternatives].join(' | ')};\n`;
}

function wordPrefixes(phrase: string): string[] {
  const words = phrase.split(' ');
  return words.map((_, i) => words.slice(0, i + 1).join(' '));
}

function wordSuffixes(phrase: string): string[] {
  const words = phrase.split(' ');
  return words.map((_, i) => words.slice(i).join(' '));
}

/**
 * The grammar for partial transcripts: every word-prefix of every phrase ("what", "what are", ...),
 * because audio cut off mid-utterance is the start of a phrase. Measured on espeak-ng renderings of
 * every phrase cut every 500 ms: prefixes came back right (bar the word being spoken at the cut),
 * while a free word loop (`<word>*` over the same vocabulary) inserted short words ("for what are
 * your opening no is"; a lower word insertion penalty traded that for dropped words, then for
 * nothing at all).
 */
export function prefixGrammar(phrases: readonly string[] = grammarPhrases()): string {
  return jsgf('prefixes', new Set(phrases.flatMap(wordPrefixes)));
}

/**
 * The grammar for realtime finals: every phrase, its word-prefixes, and its word-suffixes but the
 * one that lacks only the first word. A caller who pauses mid-sentence ("book an appointment for"
 * ... "tomorrow morning") makes two utterances of one sentence; each is recognized as the fragment
 * it is, and the agent's turn joins them. The phrase-less-its-first-word suffixes are left out
 * because pocketsphinx absorbs a weak onset into the silence a realtime utterance starts with:
 * measured, "press one two three on the keypad" then came back as "one two three on the keypad"
 * on the phone band at every espeak rate; without them every phrase comes back whole, and a
 * fragment heard after a dropped connection cannot become a whole different phrase.
 */
export function spanGrammar(phrases: readonly string[] = grammarPhrases()): string {
  const suffixesBeyondTheFirstWord = (p: string) => wordSuffixes(p).slice(2);
  return jsgf(
    'spans',
    new Set([
      ...phrases,
      ...phrases.flatMap((p) => [...wordPrefixes(p), ...suffixesBeyondTheFirstWord(p)]),
    ]),
  );
}

/**
 * The decoder's grammars, by search name: `phrases` for whole utterances (the HTTP endpoint),
 * `prefixes` for partial transcripts, `spans` for realtime finals, which may be a fragment.
 */
export function recognizerGrammars(phrases: readonly string[] = grammarPhrases()) {
  return {
    // The scripted dialog's grammar (`jsgfGrammar()`), for any list of phrases.
    phrases: jsgf('switchboard', phrases),
    prefixes: prefixGrammar(phrases),
    spans: spanGrammar(phrases),
  };
}

export type SearchName = keyof ReturnType<typeof recognizerGrammars>;

// ---------------------------------------------------------------------------------------------
// The decoder process.

export interface DecoderOptions {
  /** JSGF grammars by search name; `recognizerGrammars()` unless given. */
  grammars?: Readonly<Record<string, string>>;
  /** Debian's python3-pocketsphinx is built for the system Python, not one on PATH. */
  python?: string;
  /** The decoder script and its arguments before the grammars (tests swap in a fake). */
  script?: readonly string[];
  /** Time for one request once sent: `base`, plus `perAudioSecond` for each second of audio. */
  timeout?: { baseMs: number; perAudioSecondMs: number };
  /** Time to load the model and grammars. */
  startTimeoutMs?: number;
}

export interface DecodeOptions {
  signal?: AbortSignal;
  /** `low` waits behind every `high` request not yet sent (partials behind finals). */
  priority?: 'high' | 'low';
  /** Overrides the decoder's timeout for this request. */
  timeoutMs?: number;
}

const MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
const DEFAULT_SCRIPT = [
  fileURLToPath(new URL('./decoder.py', import.meta.url)),
  '--hmm',
  `${MODEL_DIR}/en-us`,
  '--dict',
  `${MODEL_DIR}/cmudict-en-us.dict`,
];
/** A 2 s phrase decodes in ~45 ms: this is for a machine under heavy load, or a hung decoder. */
const DEFAULT_TIMEOUT = { baseMs: 5_000, perAudioSecondMs: 250 };
/** Loading takes ~200 ms. */
const DEFAULT_START_TIMEOUT_MS = 15_000;
const CLOSE_GRACE_MS = 2_000;
/** What is kept of the decoder's stderr, for the error that reports its death. */
const STDERR_KEPT = 2_000;

interface Request {
  id: number;
  search: string;
  pcm: Buffer;
  priority: 'high' | 'low';
  timeoutMs: number;
  resolve: (text: string) => void;
  reject: (err: Error) => void;
  /** Settled early (aborted): the decoder's reply, if it is already decoding, is dropped. */
  settled: boolean;
  detach: () => void;
  timer?: NodeJS.Timeout;
}

interface Child {
  process: ChildProcessByStdio<Writable, Readable, Readable>;
  pid: number | undefined;
  /** "the pocketsphinx decoder (pid N)", for messages. */
  name: string;
  ready: boolean;
  /** Unparsed stdout: the start of a line not yet complete. */
  pending: string;
  stderr: string;
  grammarDir: string;
  startTimer: NodeJS.Timeout;
  /** Resolves when the process has exited (or could not start). */
  exited: Promise<void>;
}

/**
 * Owns one long-lived pocketsphinx decoder (decoder.py, its protocol is described there): started
 * on the first request, fed one request at a time in order (`high` priority before `low`), with a
 * timeout per request. If the process dies or times out, the request it was decoding fails with
 * an error that says so, and the next request starts a new one. `close()` ends it by its pid.
 *
 * The child does not keep Node running by itself: a request in progress does (its timer), so a
 * script that forgets `close()` still exits, and the decoder then ends at the end of its stdin.
 */
export class PocketsphinxDecoder {
  readonly #grammars: Readonly<Record<string, string>>;
  readonly #python: string;
  readonly #script: readonly string[];
  readonly #timeout: { baseMs: number; perAudioSecondMs: number };
  readonly #startTimeoutMs: number;
  #child: Child | undefined;
  #starting = false;
  #queue: Request[] = [];
  #inFlight: Request | undefined;
  #nextId = 1;
  #closed = false;
  #starts = 0;

  constructor(opts: DecoderOptions = {}) {
    this.#grammars = opts.grammars ?? recognizerGrammars();
    this.#python = opts.python ?? '/usr/bin/python3';
    this.#script = opts.script ?? DEFAULT_SCRIPT;
    this.#timeout = opts.timeout ?? DEFAULT_TIMEOUT;
    this.#startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  /** The decoder process's pid while one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How many decoder processes were started so far. */
  get starts(): number {
    return this.#starts;
  }

  /** Recognizes 16 kHz mono PCM16LE with the grammar `search`: its text, "" for no match. */
  decode(pcm: Buffer, search: string, opts: DecodeOptions = {}): Promise<string> {
    if (this.#closed) return Promise.reject(new Error('the pocketsphinx decoder is closed'));
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!Object.hasOwn(this.#grammars, search)) {
      return Promise.reject(
        new Error(`no grammar named "${search}" (have ${Object.keys(this.#grammars).join(', ')})`),
      );
    }
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        // Not yet sent: it never will be. Being decoded: its reply will be dropped.
        const queued = this.#queue.indexOf(request);
        if (queued >= 0) this.#queue.splice(queued, 1);
        settle(request, () => reject(signal ? abortReason(signal) : new Error('aborted')));
      };
      const request: Request = {
        id: this.#nextId++,
        search,
        pcm,
        priority: opts.priority ?? 'high',
        timeoutMs:
          opts.timeoutMs ??
          this.#timeout.baseMs +
            (this.#timeout.perAudioSecondMs * pcm.length) / 2 / DECODER_SAMPLE_RATE,
        resolve,
        reject,
        settled: false,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // High priority goes behind the last high one; low at the end.
      const at =
        request.priority === 'high'
          ? this.#queue.findIndex((r) => r.priority === 'low')
          : this.#queue.length;
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, request);
      this.#pump();
    });
  }

  /**
   * Fails what is waiting and ends the decoder process: SIGTERM to its pid, SIGKILL if it is still
   * there after CLOSE_GRACE_MS. Resolves once it has exited.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error('the pocketsphinx decoder was closed');
    for (const request of this.#queue.splice(0)) settle(request, () => request.reject(closed));
    if (this.#inFlight) {
      const request = this.#inFlight;
      this.#inFlight = undefined;
      clearTimeout(request.timer);
      settle(request, () => request.reject(closed));
    }
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    clearTimeout(child.startTimer);
    child.process.kill('SIGTERM');
    const stubborn = setTimeout(() => child.process.kill('SIGKILL'), CLOSE_GRACE_MS);
    await child.exited;
    clearTimeout(stubborn);
  }

  #pump(): void {
    if (this.#closed || this.#inFlight !== undefined || this.#queue.length === 0) return;
    const child = this.#child;
    if (child === undefined) {
      if (!this.#starting) void this.#start();
      return;
    }
    if (!child.ready) return;
    const request = this.#queue.shift();
    if (request === undefined) return;
    this.#inFlight = request;
    request.timer = setTimeout(() => {
      this.#kill(
        child,
        new Error(
          `${child.name} did not answer request ${request.id} within ${Math.round(request.timeoutMs)} ms; it was stopped and the next request starts a new one`,
        ),
      );
    }, request.timeoutMs);
    child.process.stdin.write(
      `${JSON.stringify({ id: request.id, search: request.search, bytes: request.pcm.length })}\n`,
    );
    child.process.stdin.write(request.pcm);
  }

  async #start(): Promise<void> {
    this.#starting = true;
    let grammarDir: string;
    const args: string[] = [];
    try {
      grammarDir = await mkdtemp(join(tmpdir(), 'sb-decoder-'));
      for (const [name, text] of Object.entries(this.#grammars)) {
        const file = join(grammarDir, `${name}.gram`);
        await writeFile(file, text);
        args.push('--grammar', `${name}=${file}`);
      }
    } catch (err) {
      this.#starting = false;
      this.#failQueue(
        new Error(`the pocketsphinx decoder could not start: ${errorMessage(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    this.#starting = false;
    if (this.#closed) {
      await rm(grammarDir, { recursive: true, force: true });
      return;
    }
    // -I: the system Python as installed, whatever PYTHON* variables a shell left behind.
    const proc = spawn(this.#python, ['-I', ...this.#script, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#starts++;
    let markExited!: () => void;
    const child: Child = {
      process: proc,
      pid: proc.pid,
      name: `the pocketsphinx decoder${proc.pid === undefined ? '' : ` (pid ${proc.pid})`}`,
      ready: false,
      pending: '',
      stderr: '',
      grammarDir,
      startTimer: setTimeout(() => {
        this.#kill(
          child,
          new Error(`${child.name} did not load within ${this.#startTimeoutMs} ms`),
        );
      }, this.#startTimeoutMs),
      exited: new Promise((resolve) => (markExited = resolve)),
    };
    this.#child = child;
    // Only a request in progress (its timer) keeps Node running, not the idle decoder.
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout, proc.stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    proc.stdin.on('error', () => undefined); // EPIPE when it died: 'close' reports that
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      child.stderr = (child.stderr + chunk).slice(-STDERR_KEPT);
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => this.#onStdout(child, chunk));
    let gone = false;
    const onGone = (why: string) => {
      if (gone) return;
      gone = true;
      clearTimeout(child.startTimer);
      void rm(grammarDir, { recursive: true, force: true }).finally(markExited);
      const stderr = child.stderr.trim();
      this.#lost(child, new Error(`${child.name} ${why}${stderr === '' ? '' : `: ${stderr}`}`));
    };
    proc.once('error', (err) => onGone(`could not run ${this.#python}: ${err.message}`));
    // 'close', not 'exit': by then stderr has been read to its end, for the message.
    proc.once('close', (code, signal) =>
      onGone(signal === null ? `exited with code ${code}` : `was killed by ${signal}`),
    );
  }

  #onStdout(child: Child, chunk: string): void {
    child.pending += chunk;
    for (;;) {
      const end = child.pending.indexOf('\n');
      if (end < 0) return;
      const line = child.pending.slice(0, end);
      child.pending = child.pending.slice(end + 1);
      if (this.#child !== child) continue; // stopped: nothing it says matters any more
      let message: { ready?: boolean; id?: number; text?: string; error?: string };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        this.#kill(child, new Error(`${child.name} wrote "${line}"`));
        return;
      }
      if (!child.ready) {
        if (message.ready !== true) {
          this.#kill(child, new Error(`${child.name} did not start: ${line}`));
          return;
        }
        child.ready = true;
        clearTimeout(child.startTimer);
        // The decoder has read its grammars.
        void rm(child.grammarDir, { recursive: true, force: true });
        this.#pump();
        continue;
      }
      const request = this.#inFlight;
      if (request === undefined || request.id !== message.id) {
        this.#kill(
          child,
          new Error(
            `${child.name} answered request ${String(message.id)}, not ${String(request?.id)}`,
          ),
        );
        return;
      }
      this.#inFlight = undefined;
      clearTimeout(request.timer);
      settle(request, () =>
        typeof message.text === 'string'
          ? request.resolve(message.text)
          : request.reject(new Error(`the pocketsphinx decoder failed: ${message.error ?? line}`)),
      );
      this.#pump();
    }
  }

  /** Stops a decoder that cannot go on (by its pid); `#lost` fails what it was doing. */
  #kill(child: Child, reason: Error): void {
    this.#lost(child, reason);
    child.process.kill('SIGKILL');
  }

  /**
   * The decoder is gone (or going): the request it was decoding fails with `reason`; if it never
   * became ready, so do the waiting ones (a decoder that cannot start would fail them all in
   * turn). Otherwise the next request starts a new decoder.
   */
  #lost(child: Child, reason: Error): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    clearTimeout(child.startTimer);
    if (this.#inFlight) {
      const request = this.#inFlight;
      this.#inFlight = undefined;
      clearTimeout(request.timer);
      settle(request, () => request.reject(reason));
    }
    if (!child.ready) this.#failQueue(reason);
    this.#pump();
  }

  #failQueue(reason: Error): void {
    for (const request of this.#queue.splice(0)) settle(request, () => request.reject(reason));
  }
}

/** Settles a request once. Its timer stays: it watches the decoder, which is still busy with it. */
function settle(request: Request, how: () => void): void {
  if (request.settled) return;
  request.settled = true;
  request.detach();
  how();
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Recognition: preprocessing with sox, then the decoder.

export interface Recognition {
  text: string;
  /** Seconds of audio recognized (for usage). */
  durationSeconds: number;
}

export interface RecognizeOptions {
  signal?: AbortSignal;
  /** The decoder's grammar: `phrases` unless given. */
  search?: SearchName;
  /** `low` for work that may wait behind finals (partial transcripts). */
  priority?: 'high' | 'low';
}

/**
 * Recognizes an audio file (any format sox reads) with `decoder`. One sox run brings the audio to
 * the model's 16 kHz mono, normalized and padded; the noise floor is mixed in here (a sox run per
 * step cost about 57 ms of CPU per recognition, and the realtime endpoint runs one every 500 ms
 * of each caller's speech); then it is decoded as one utterance.
 */
export async function recognize(
  audio: Buffer,
  decoder: PocketsphinxDecoder,
  { signal, search = 'phrases', priority = 'high' }: RecognizeOptions = {},
): Promise<Recognition> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-asr-'));
  try {
    const input = join(dir, 'input');
    await writeFile(input, audio);
    const opts = signal === undefined ? {} : { signal };
    const { stdout: speech } = await run(
      'sox',
      [
        // -R everywhere: sox's dither is random otherwise, and the same clip must always be
        // heard the same way.
        '-R',
        '-q',
        input,
        '-r',
        String(DECODER_SAMPLE_RATE),
        '-c',
        '1',
        '-b',
        '16',
        '-e',
        'signed-integer',
        '-t',
        'raw',
        '-',
        'norm',
        '-3',
        'pad',
        '0.3',
        '0.3',
      ],
      { ...opts, encoding: 'buffer', maxBuffer: 1 << 30 },
    );
    const seconds = speech.length / 2 / DECODER_SAMPLE_RATE;
    const pcm = withNoiseFloor(speech);
    const text = await decoder.decode(pcm, search, { ...opts, priority });
    return {
      text,
      durationSeconds: Math.max(0, seconds - 0.6),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
