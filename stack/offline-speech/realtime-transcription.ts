/**
 * OpenAI's realtime transcription WebSocket (`/v1/realtime?intent=transcription`), the part of it
 * that `@livekit/agents-plugin-openai`'s STT speaks with `useRealtime: true`, so that the offline
 * pipeline runs the production streaming-STT code path. Not AI: an energy VAD and pocketsphinx
 * grammars (recognizer.ts), served by one long-lived decoder process.
 *
 *   client → server  session.update, input_audio_buffer.append / .commit / .clear
 *   server → client  session.created, session.updated,
 *                    input_audio_buffer.speech_started / .speech_stopped / .committed / .cleared,
 *                    conversation.item.input_audio_transcription.delta / .completed / .failed,
 *                    error
 *
 * Turns: with `server_vad` the server finds them itself (energy VAD below); with `turn_detection:
 * null` the client commits. Partial transcripts go out as deltas while an utterance is open; the
 * plugin appends deltas, so they only ever add words (see `stableWords`). The final transcript is
 * the `spans` grammar's answer on the whole utterance: a whole phrase, as the HTTP endpoint would
 * say it, or a part of one (a caller who pauses mid-sentence makes two utterances of it).
 *
 * Speculative finals (server_vad): once the VAD has heard SPECULATE_AFTER_MS of quiet after speech,
 * the utterance so far is recognized in the background. Speech before the VAD's stop abandons it;
 * otherwise its answer is the final, so `completed` follows `speech_stopped` almost at once
 * instead of a recognition later.
 *
 * Errors: a malformed client event gets an `error` event and the connection stays open (the
 * plugin throws on any `error` event, its stt.ts `case 'error'`: its stream ends without a retry,
 * and an AgentSession closes on that STT error). A recognizer failure on an utterance gets only
 * `conversation.item.input_audio_transcription.failed`, as at OpenAI: the plugin ignores it, and
 * the agent hears nothing for that utterance (then says it did not catch that).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { PCM_SAMPLE_RATE } from './espeak.js';
import type { Recognition, RecognizeOptions } from './recognizer.js';

/** 20 ms: short enough that the VAD's 60 ms onset is three frames, long enough for a stable RMS. */
export const FRAME_MS = 20;
/** Speech this long (in a row) opens an utterance: a click or a single loud frame does not. */
export const SPEECH_START_MS = 60;
/**
 * New audio between two partial recognitions. Each costs sox and a decode of the utterance so far
 * (~0.1 s for 2 s of speech here), and only one runs at a time per connection.
 */
export const PARTIAL_INTERVAL_MS = 500;
/** Less speech than this is too little to name a word: the first partial waits for it. */
export const MIN_PARTIAL_SPEECH_MS = 300;
/**
 * Quiet after speech, in server_vad mode, that starts a speculative final: short enough that it
 * is done before the VAD's stop (the plugin's silence_duration_ms is 350), long enough that the
 * gaps inside a phrase rarely start one for nothing.
 */
export const SPECULATE_AFTER_MS = 100;
/** Partials recognize the whole utterance so far; past this the cost grows, and the final will do. */
export const MAX_PARTIAL_AUDIO_MS = 15_000;
/** OpenAI's minimum for a commit (`input_audio_buffer_commit_empty` below it). */
export const MIN_COMMIT_MS = 100;
/** Above OpenAI's 15 MiB per event, so whatever OpenAI takes fits; past it, ws closes with 1009. */
const MAX_MESSAGE_BYTES = 16 << 20;
const FRAME_SAMPLES = (PCM_SAMPLE_RATE * FRAME_MS) / 1000;

/** OpenAI's documented server_vad defaults, for the fields a session.update leaves out. */
const DEFAULT_SERVER_VAD = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
} as const;

export interface ServerVad {
  type: 'server_vad';
  threshold: number;
  prefix_padding_ms: number;
  silence_duration_ms: number;
}

// ---------------------------------------------------------------------------------------------
// Voice activity: pure functions, unit-tested.

/**
 * OpenAI's `threshold` (0..1, "higher needs louder audio") as a frame level: linear in dB from
 * -90 dBFS (0: anything louder than one bit) to 0 dBFS (1: nothing). The default 0.5 is -45 dBFS:
 * espeak-ng speech frames measure -15 to -40 dBFS, a phone line's comfort noise -60 or below.
 */
export function energyThresholdDbfs(threshold: number): number {
  return -90 + 90 * Math.min(1, Math.max(0, threshold));
}

/** RMS level of PCM16 samples in dBFS (-Infinity for digital silence). */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}

export interface VadState {
  speaking: boolean;
  /** Speech in a row so far (counts toward the onset while not speaking). */
  speechMs: number;
  /** Silence in a row so far (counts toward the end while speaking). */
  silenceMs: number;
}

export const VAD_IDLE: VadState = { speaking: false, speechMs: 0, silenceMs: 0 };

export interface VadSettings {
  thresholdDbfs: number;
  silenceDurationMs: number;
  frameMs?: number;
  speechStartMs?: number;
}

/**
 * One frame of the energy VAD: a frame at or above the threshold is speech. Speech starts after
 * `speechStartMs` of speech in a row (then `speechMs` says how far back the onset was) and stops
 * after `silenceDurationMs` of silence in a row; anything shorter in between changes nothing.
 */
export function vadStep(
  state: VadState,
  frameLevelDbfs: number,
  settings: VadSettings,
): { state: VadState; event?: 'speech_started' | 'speech_stopped' } {
  const frameMs = settings.frameMs ?? FRAME_MS;
  const loud = frameLevelDbfs >= settings.thresholdDbfs;
  if (!state.speaking) {
    const speechMs = loud ? state.speechMs + frameMs : 0;
    if (speechMs >= (settings.speechStartMs ?? SPEECH_START_MS)) {
      return { state: { speaking: true, speechMs, silenceMs: 0 }, event: 'speech_started' };
    }
    return { state: { speaking: false, speechMs, silenceMs: 0 } };
  }
  const silenceMs = loud ? 0 : state.silenceMs + frameMs;
  if (silenceMs >= settings.silenceDurationMs) {
    return { state: { speaking: false, speechMs: 0, silenceMs }, event: 'speech_stopped' };
  }
  return { state: { speaking: true, speechMs: state.speechMs, silenceMs } };
}

// ---------------------------------------------------------------------------------------------
// Partial transcripts: pure functions, unit-tested.

/**
 * The words two consecutive partial hypotheses agree on, from the start, never including the
 * current one's last word: that word is the one being spoken when the audio was cut, and the
 * prefix grammar completes it with a guess ("what are your" for "what ar"). Agreement with the
 * previous hypothesis keeps out a first guess the next one corrects ("what are your" for "when are
 * you open"). The plugin cannot take words back, so only words both runs heard are sent.
 */
export function stableWords(previous: readonly string[], current: readonly string[]): string[] {
  const limit = Math.min(previous.length, current.length - 1);
  let n = 0;
  while (n < limit && previous[n] === current[n]) n++;
  return current.slice(0, n);
}

/**
 * The text to append to what was already sent, given the words now stable: only words that
 * extend the sent ones, with the separating space. Empty when nothing new is stable, or when the
 * stable words disagree with what was sent (sent text is never taken back; the final corrects it).
 */
export function appendOnlyDelta(sent: readonly string[], stable: readonly string[]): string {
  if (stable.length <= sent.length) return '';
  if (sent.some((word, i) => stable[i] !== word)) return '';
  const added = stable.slice(sent.length).join(' ');
  return sent.length === 0 ? added : ` ${added}`;
}

// ---------------------------------------------------------------------------------------------
// Client events.

const TurnDetection = z
  .object({
    type: z.literal('server_vad', {
      error: 'the offline speech server has only server_vad (an energy VAD)',
    }),
    threshold: z.number().min(0).max(1).optional(),
    prefix_padding_ms: z.number().int().min(0).max(10_000).optional(),
    silence_duration_ms: z.number().int().min(0).max(10_000).optional(),
  })
  .loose()
  .nullable();

const SessionUpdate = z.object({
  type: z.literal('session.update'),
  event_id: z.string().optional(),
  session: z
    .object({
      type: z.literal('transcription', {
        error: 'this endpoint (intent=transcription) serves only session.type "transcription"',
      }),
      audio: z
        .object({
          input: z
            .object({
              format: z
                .object({
                  type: z.literal('audio/pcm', {
                    error: 'the offline speech server takes only audio/pcm',
                  }),
                  rate: z.literal(PCM_SAMPLE_RATE).optional(),
                })
                .optional(),
              transcription: z
                .object({
                  model: z.string().optional(),
                  language: z.string().optional(),
                  prompt: z.string().optional(),
                })
                .loose()
                .nullable()
                .optional(),
              turn_detection: TurnDetection.optional(),
              noise_reduction: z.object({ type: z.string() }).nullable().optional(),
            })
            .loose()
            .optional(),
        })
        .loose()
        .optional(),
    })
    .loose(),
});

const Append = z.object({
  type: z.literal('input_audio_buffer.append'),
  event_id: z.string().optional(),
  audio: z.string(),
});

const Commit = z.object({
  type: z.literal('input_audio_buffer.commit'),
  event_id: z.string().optional(),
});

const Clear = z.object({
  type: z.literal('input_audio_buffer.clear'),
  event_id: z.string().optional(),
});

const CLIENT_EVENTS = {
  'session.update': SessionUpdate,
  'input_audio_buffer.append': Append,
  'input_audio_buffer.commit': Commit,
  'input_audio_buffer.clear': Clear,
} as const;

// Strict: Buffer.from(…, 'base64') silently skips what is not base64, which would turn a
// client's encoding bug into noise in the audio.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface RealtimeError {
  type: 'invalid_request_error' | 'server_error';
  code: string;
  message: string;
  param?: string;
}

class ClientError extends Error {
  constructor(readonly detail: RealtimeError) {
    super(detail.message);
  }
}

/** OpenAI's codes for the first problem zod found: a missing parameter, or a wrong one. */
function issueToError(raw: unknown, error: z.ZodError): RealtimeError {
  const path = error.issues[0]?.path ?? [];
  const param = path.map(String).join('.');
  let value: unknown = raw;
  for (const key of path) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<PropertyKey, unknown>)[key]
        : undefined;
  }
  return value === undefined
    ? {
        type: 'invalid_request_error',
        code: 'missing_required_parameter',
        message: `Missing required parameter: '${param}'.`,
        param,
      }
    : {
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: `Invalid value for '${param}': ${error.issues[0]?.message ?? 'invalid'}.`,
        param,
      };
}

// ---------------------------------------------------------------------------------------------
// The server side.

export type Recognizer = (audio: Buffer, opts: RecognizeOptions) => Promise<Recognition>;

export interface RealtimeTranscriptionStats {
  connections: number;
  /** Recognitions (partial, speculative or final) not yet settled. */
  recognitionsInFlight: number;
  /**
   * Recognitions stopped because their connection closed, their utterance ended or was cleared,
   * or (speculative ones) speech resumed.
   */
  recognitionsAborted: number;
  /** Finals that took a speculative recognition's answer instead of running their own. */
  speculativeFinals: number;
}

export interface RealtimeTranscription {
  stats(): RealtimeTranscriptionStats;
  /** Closes every connection (1001): an upgraded socket would otherwise hold http.Server.close. */
  closeAll(): void;
  /**
   * Fault injection for tests: drops every connection without a closing handshake, the way a
   * provider's socket breaks. Returns how many were dropped.
   */
  dropAll(): number;
}

/**
 * Serves the realtime transcription WebSocket on `server`'s upgrade requests, recognizing with
 * `recognize` (the server's decoder, or a test's stand-in).
 */
export function attachRealtimeTranscription(
  server: Server,
  { recognize }: { recognize: Recognizer },
): RealtimeTranscription {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const connections = new Set<Connection>();
  const counters = { recognitionsInFlight: 0, recognitionsAborted: 0, speculativeFinals: 0 };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== '/v1/realtime') {
      rejectUpgrade(socket, 404, `${url.pathname} is not a WebSocket endpoint (try /v1/realtime)`);
      return;
    }
    if (url.searchParams.get('intent') !== 'transcription') {
      rejectUpgrade(
        socket,
        400,
        'the offline speech server has realtime transcription sessions only (?intent=transcription)',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, url.searchParams.get('model'), recognize, counters);
      connections.add(connection);
      ws.once('close', () => connections.delete(connection));
    });
  });

  return {
    stats: () => ({ connections: connections.size, ...counters }),
    closeAll: () => {
      for (const connection of connections) connection.close(1001, 'server shutting down');
    },
    dropAll: () => {
      const dropped = connections.size;
      for (const connection of connections) connection.drop();
      return dropped;
    },
  };
}

function rejectUpgrade(socket: Duplex, status: 400 | 404, message: string): void {
  socket.on('error', () => socket.destroy());
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

/**
 * Audio received since the last commit, addressed by absolute sample index in the session. One
 * growing buffer, so the VAD reads its 20 ms frames without copying what came before.
 */
class PcmBuffer {
  #data = Buffer.alloc(PCM_SAMPLE_RATE * 2);
  /** Absolute index of the first sample held. */
  start = 0;
  /** Absolute index one past the last sample held (= samples received in the session). */
  end = 0;

  append(pcm: Buffer): void {
    const used = (this.end - this.start) * 2;
    if (used + pcm.length > this.#data.length) {
      const grown = Buffer.alloc(Math.max(this.#data.length * 2, used + pcm.length));
      this.#data.copy(grown, 0, 0, used);
      this.#data = grown;
    }
    pcm.copy(this.#data, used);
    this.end += pcm.length / 2;
  }

  /** A view, valid until the next append or drop. */
  slice(from: number, to: number): Buffer {
    return this.#data.subarray(
      (Math.max(from, this.start) - this.start) * 2,
      (to - this.start) * 2,
    );
  }

  dropBefore(sample: number): void {
    const to = Math.min(sample, this.end);
    if (to <= this.start) return;
    this.#data.copyWithin(0, (to - this.start) * 2, (this.end - this.start) * 2);
    this.start = to;
  }
}

interface Utterance {
  itemId: string;
  /** First sample of the utterance's audio (the onset less the prefix padding). */
  startSample: number;
  /** Where the speech itself began. */
  onsetSample: number;
  /** End of the audio the last partial recognized. */
  partialEndSample: number;
  previousHypothesis: string[];
  sentWords: string[];
  /** The recognition started after SPECULATE_AFTER_MS of quiet, while no speech came since. */
  speculation?: Speculation;
}

interface Speculation {
  abort: AbortController;
  result: Promise<Recognition>;
}

interface Session {
  model: string;
  language?: string;
  prompt?: string;
  turnDetection: ServerVad | null;
  noiseReduction: { type: string } | null;
}

const samplesToMs = (samples: number) => Math.round((samples * 1000) / PCM_SAMPLE_RATE);
const msToSamples = (ms: number) => Math.round((ms * PCM_SAMPLE_RATE) / 1000);
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

class Connection {
  readonly #ws: WebSocket;
  readonly #recognize: Recognizer;
  readonly #counters: Omit<RealtimeTranscriptionStats, 'connections'>;
  readonly #closed = new AbortController();
  readonly #sessionId = newId('sess');
  #session: Session;
  #buffer = new PcmBuffer();
  /** Absolute index of the next sample the VAD has not looked at. */
  #vadCursor = 0;
  #vad: VadState = VAD_IDLE;
  #utterance: Utterance | undefined;
  #partial: AbortController | undefined;
  #finalsPending = 0;
  /** Finals run one after another, so `completed` events arrive in commit order. */
  #finals: Promise<void> = Promise.resolve();
  #lastItemId: string | null = null;

  constructor(
    ws: WebSocket,
    model: string | null,
    recognize: Recognizer,
    counters: Omit<RealtimeTranscriptionStats, 'connections'>,
  ) {
    this.#ws = ws;
    this.#recognize = recognize;
    this.#counters = counters;
    this.#session = {
      model: model ?? 'pocketsphinx-grammar',
      turnDetection: { ...DEFAULT_SERVER_VAD },
      noiseReduction: null,
    };
    ws.on('message', (data) => this.#onMessage(data));
    ws.once('close', () => this.#closed.abort());
    // ws reports protocol violations (an oversized message, a bad frame) here, then closes.
    ws.on('error', () => undefined);
    this.#send({ type: 'session.created', session: this.#sessionObject() });
  }

  #isClosed(): boolean {
    return this.#closed.signal.aborted;
  }

  close(code: number, reason: string): void {
    this.#closed.abort();
    this.#ws.close(code, reason);
  }

  /** Ends the connection abruptly (no close frame): the client sees an abnormal closure. */
  drop(): void {
    this.#closed.abort();
    this.#ws.terminate();
  }

  #send(event: Record<string, unknown>): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(JSON.stringify({ event_id: newId('event'), ...event }));
  }

  #sendError(error: RealtimeError, clientEventId?: string): void {
    this.#send({
      type: 'error',
      error: { ...error, param: error.param ?? null, event_id: clientEventId ?? null },
    });
  }

  #sessionObject() {
    const s = this.#session;
    return {
      type: 'transcription',
      object: 'realtime.transcription_session',
      id: this.#sessionId,
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: PCM_SAMPLE_RATE },
          transcription: {
            model: s.model,
            language: s.language ?? null,
            prompt: s.prompt ?? '',
          },
          turn_detection: s.turnDetection,
          noise_reduction: s.noiseReduction,
        },
      },
      include: null,
    };
  }

  #onMessage(data: RawData): void {
    const text = (
      Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    ).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.#sendError({
        type: 'invalid_request_error',
        code: 'invalid_json',
        message: 'The message is not valid JSON.',
      });
      return;
    }
    const fields: Record<string, unknown> =
      typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const clientEventId = typeof fields.event_id === 'string' ? fields.event_id : undefined;
    try {
      this.#dispatch(raw, fields.type);
    } catch (err) {
      this.#sendError(
        err instanceof ClientError
          ? err.detail
          : {
              type: 'server_error',
              code: 'server_error',
              message: `The offline speech server failed on this event: ${err instanceof Error ? err.message : String(err)}`,
            },
        clientEventId,
      );
    }
  }

  #dispatch(raw: unknown, type: unknown): void {
    if (typeof type !== 'string') {
      throw new ClientError({
        type: 'invalid_request_error',
        code: 'missing_required_parameter',
        message: "Missing required parameter: 'type'.",
        param: 'type',
      });
    }
    if (!Object.hasOwn(CLIENT_EVENTS, type)) {
      throw new ClientError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: `Invalid value: '${type}'. Supported values are: ${Object.keys(CLIENT_EVENTS)
          .map((t) => `'${t}'`)
          .join(', ')}.`,
        param: 'type',
      });
    }
    const parse = <T>(schema: z.ZodType<T>): T => {
      const result = schema.safeParse(raw);
      if (!result.success) throw new ClientError(issueToError(raw, result.error));
      return result.data;
    };
    switch (type as keyof typeof CLIENT_EVENTS) {
      case 'session.update':
        this.#updateSession(parse(SessionUpdate));
        return;
      case 'input_audio_buffer.append':
        this.#append(parse(Append).audio);
        return;
      case 'input_audio_buffer.commit':
        parse(Commit);
        this.#commit();
        return;
      case 'input_audio_buffer.clear':
        parse(Clear);
        this.#clear();
        this.#send({ type: 'input_audio_buffer.cleared' });
        return;
    }
  }

  #updateSession(event: z.infer<typeof SessionUpdate>): void {
    const input = event.session.audio?.input;
    const turnDetection = input?.turn_detection;
    const next: Session = { ...this.#session };
    if (input?.transcription) {
      const t = input.transcription;
      if (t.model !== undefined) next.model = t.model;
      next.language = t.language;
      next.prompt = t.prompt;
    }
    if (turnDetection !== undefined) {
      next.turnDetection =
        turnDetection === null
          ? null
          : {
              type: 'server_vad',
              threshold: turnDetection.threshold ?? DEFAULT_SERVER_VAD.threshold,
              prefix_padding_ms:
                turnDetection.prefix_padding_ms ?? DEFAULT_SERVER_VAD.prefix_padding_ms,
              silence_duration_ms:
                turnDetection.silence_duration_ms ?? DEFAULT_SERVER_VAD.silence_duration_ms,
            };
    }
    if (input?.noise_reduction !== undefined) next.noiseReduction = input.noise_reduction;
    // The plugin re-sends the whole session on any option change (keyterms, language): an
    // utterance in progress survives unless its turn handling really changed.
    if (JSON.stringify(next.turnDetection) !== JSON.stringify(this.#session.turnDetection)) {
      this.#abortPartial();
      this.#abortSpeculation();
      this.#utterance = undefined;
      this.#vad = VAD_IDLE;
    }
    this.#session = next;
    this.#send({ type: 'session.updated', session: this.#sessionObject() });
  }

  #append(audio: string): void {
    if (!BASE64.test(audio)) {
      throw new ClientError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: "Invalid value for 'audio': expected base64-encoded audio.",
        param: 'audio',
      });
    }
    const pcm = Buffer.from(audio, 'base64');
    if (pcm.length % 2 !== 0) {
      throw new ClientError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: "Invalid value for 'audio': 16-bit PCM needs an even number of bytes.",
        param: 'audio',
      });
    }
    if (pcm.length === 0) return;
    this.#buffer.append(pcm);
    this.#runVad();
    this.#startPartialIfDue();
  }

  /**
   * Runs the VAD over the new whole frames. Without turn detection it still runs, at the default
   * threshold, only to find where speech began: partials start there instead of recognizing the
   * silence a client-committed buffer begins with. It then sends no events and commits nothing.
   */
  #runVad(): void {
    const serverVad = this.#session.turnDetection;
    const settings: VadSettings = {
      thresholdDbfs: energyThresholdDbfs(serverVad?.threshold ?? DEFAULT_SERVER_VAD.threshold),
      silenceDurationMs: serverVad?.silence_duration_ms ?? DEFAULT_SERVER_VAD.silence_duration_ms,
    };
    const paddingMs = serverVad?.prefix_padding_ms ?? DEFAULT_SERVER_VAD.prefix_padding_ms;
    while (this.#vadCursor + FRAME_SAMPLES <= this.#buffer.end) {
      const frame = this.#buffer.slice(this.#vadCursor, this.#vadCursor + FRAME_SAMPLES);
      this.#vadCursor += FRAME_SAMPLES;
      // The buffer is allocated whole and frames start at even offsets: an aligned view.
      const level = levelDbfs(new Int16Array(frame.buffer, frame.byteOffset, FRAME_SAMPLES));
      const step = vadStep(this.#vad, level, settings);
      this.#vad = step.state;
      if (step.event === 'speech_started' && this.#utterance === undefined) {
        const onset = this.#vadCursor - msToSamples(step.state.speechMs);
        const startSample = Math.max(this.#buffer.start, onset - msToSamples(paddingMs));
        this.#utterance = {
          itemId: newId('item'),
          startSample,
          onsetSample: onset,
          // So that the first partial runs once there is MIN_PARTIAL_SPEECH_MS of speech.
          partialEndSample: onset - msToSamples(PARTIAL_INTERVAL_MS - MIN_PARTIAL_SPEECH_MS),
          previousHypothesis: [],
          sentWords: [],
        };
        if (serverVad) {
          this.#send({
            type: 'input_audio_buffer.speech_started',
            audio_start_ms: samplesToMs(startSample),
            item_id: this.#utterance.itemId,
          });
        }
      } else if (step.event === 'speech_stopped' && serverVad && this.#utterance) {
        this.#send({
          type: 'input_audio_buffer.speech_stopped',
          audio_end_ms: samplesToMs(this.#vadCursor),
          item_id: this.#utterance.itemId,
        });
        this.#commitUtterance(this.#utterance.itemId, this.#utterance.startSample, this.#vadCursor);
      } else if (serverVad && this.#utterance && step.state.speaking) {
        this.#speculate(this.#utterance, step.state.silenceMs);
      }
    }
    if (serverVad && !this.#vad.speaking) {
      // Between utterances only the prefix padding (and the onset being counted) can still be
      // needed; without turn detection everything stays until the client commits, as at OpenAI.
      this.#buffer.dropBefore(
        this.#vadCursor - msToSamples(paddingMs + SPEECH_START_MS + FRAME_MS),
      );
    }
  }

  #commit(): void {
    const end = this.#buffer.end;
    // Without turn detection the whole buffer, as at OpenAI (the utterance's start is only the
    // energy VAD's guess, and leading silence costs pocketsphinx little: 20 s of it, ~0.1 s).
    const start =
      this.#session.turnDetection && this.#utterance
        ? this.#utterance.startSample
        : this.#buffer.start;
    const ms = samplesToMs(end - start);
    if (ms < MIN_COMMIT_MS) {
      throw new ClientError({
        type: 'invalid_request_error',
        code: 'input_audio_buffer_commit_empty',
        message: `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${ms}ms of audio.`,
      });
    }
    this.#commitUtterance(this.#utterance?.itemId ?? newId('item'), start, end);
    this.#vad = VAD_IDLE;
    this.#vadCursor = end;
  }

  #commitUtterance(itemId: string, start: number, end: number): void {
    this.#abortPartial();
    // Still there only if no speech came after it started: its audio is the utterance's, less
    // quiet at the end. (Only server_vad speculates: a client's commit is recognized afresh.)
    const speculation = this.#utterance?.speculation;
    const audio = Buffer.from(this.#buffer.slice(start, end));
    this.#buffer.dropBefore(end);
    this.#utterance = undefined;
    this.#send({
      type: 'input_audio_buffer.committed',
      item_id: itemId,
      previous_item_id: this.#lastItemId,
    });
    this.#lastItemId = itemId;
    this.#transcribe(itemId, audio, speculation);
  }

  #clear(): void {
    this.#abortPartial();
    this.#abortSpeculation();
    this.#buffer.dropBefore(this.#buffer.end);
    this.#vadCursor = this.#buffer.end;
    this.#vad = VAD_IDLE;
    this.#utterance = undefined;
  }

  #transcribe(itemId: string, audio: Buffer, speculation?: Speculation): void {
    this.#finalsPending++;
    this.#finals = this.#finals.then(async () => {
      try {
        if (this.#closed.signal.aborted) return;
        let result: Recognition | undefined;
        if (speculation !== undefined) {
          // A speculation that failed is run again on the whole utterance, which reports. One
          // that failed because the connection closed (it aborts them) has no one to report to.
          result = await speculation.result.catch(() => undefined);
          if (result === undefined && this.#isClosed()) return;
          if (result !== undefined) this.#counters.speculativeFinals++;
        }
        result ??= await this.#run(audio, { signal: this.#closed.signal, search: 'spans' });
        this.#send({
          type: 'conversation.item.input_audio_transcription.completed',
          item_id: itemId,
          content_index: 0,
          transcript: result.text,
          // The committed audio (a speculation heard less of its trailing quiet).
          usage: { type: 'duration', seconds: Math.ceil(samplesToMs(audio.length / 2) / 1000) },
        });
      } catch (err) {
        if (this.#closed.signal.aborted) return;
        // As at OpenAI: this event alone. The plugin ignores it (an `error` event would end its
        // stream), so the caller's words are lost for this utterance, not the whole call.
        this.#send({
          type: 'conversation.item.input_audio_transcription.failed',
          item_id: itemId,
          content_index: 0,
          error: {
            type: 'server_error',
            code: 'transcription_failed',
            message: `The offline recognizer failed on item ${itemId}: ${err instanceof Error ? err.message : String(err)}`,
            param: null,
          },
        });
      } finally {
        this.#finalsPending--;
      }
    });
  }

  /**
   * Called for each frame while the VAD hears speech (server_vad): a loud frame abandons the
   * speculation (the utterance goes on), SPECULATE_AFTER_MS of quiet starts one on the audio so far.
   */
  #speculate(u: Utterance, silenceMs: number): void {
    if (silenceMs === 0) {
      this.#abortSpeculation();
      return;
    }
    if (silenceMs < SPECULATE_AFTER_MS || u.speculation !== undefined) return;
    this.#abortPartial(); // the speculation hears the same words, and is the one that matters
    const abort = new AbortController();
    const result = this.#run(Buffer.from(this.#buffer.slice(u.startSample, this.#vadCursor)), {
      signal: AbortSignal.any([abort.signal, this.#closed.signal]),
      search: 'spans',
    });
    // Awaited only if it becomes the final; an abandoned one must not be an unhandled rejection.
    result.catch(() => undefined);
    u.speculation = { abort, result };
  }

  #abortSpeculation(): void {
    const u = this.#utterance;
    u?.speculation?.abort.abort();
    if (u) delete u.speculation;
  }

  #startPartialIfDue(): void {
    const u = this.#utterance;
    // A final in progress comes first: it is what the caller waits for, and deltas of the next
    // item sent before it would be appended to this item's text by the plugin.
    if (u === undefined || this.#partial !== undefined || this.#finalsPending > 0) return;
    // Quiet since the speculation started: nothing new to hear.
    if (u.speculation !== undefined) return;
    const end = this.#buffer.end;
    if (samplesToMs(end - u.onsetSample) < MIN_PARTIAL_SPEECH_MS) return;
    if (samplesToMs(end - u.partialEndSample) < PARTIAL_INTERVAL_MS) return;
    if (samplesToMs(end - u.startSample) > MAX_PARTIAL_AUDIO_MS) return;
    u.partialEndSample = end;
    const audio = this.#buffer.slice(u.startSample, end);
    const abort = new AbortController();
    this.#partial = abort;
    const signal = AbortSignal.any([abort.signal, this.#closed.signal]);
    void this.#run(audio, { signal, search: 'prefixes', priority: 'low' })
      .then((result) => {
        if (signal.aborted || this.#utterance !== u) return;
        const words = result.text.split(/\s+/).filter(Boolean);
        // No match is no evidence either way: keep comparing with the last real hypothesis.
        if (words.length === 0) return;
        const stable = stableWords(u.previousHypothesis, words);
        u.previousHypothesis = words;
        const delta = appendOnlyDelta(u.sentWords, stable);
        if (delta === '') return;
        u.sentWords = stable;
        this.#send({
          type: 'conversation.item.input_audio_transcription.delta',
          item_id: u.itemId,
          content_index: 0,
          delta,
        });
      })
      // A failed partial is not reported: the final recognizes the same audio and reports.
      .catch(() => undefined)
      .finally(() => {
        if (this.#partial === abort) this.#partial = undefined;
      });
  }

  #abortPartial(): void {
    this.#partial?.abort();
    this.#partial = undefined;
  }

  async #run(audio: Buffer, opts: RecognizeOptions): Promise<Recognition> {
    this.#counters.recognitionsInFlight++;
    try {
      return await this.#recognize(pcmToWav(audio), opts);
    } catch (err) {
      if (opts.signal?.aborted) this.#counters.recognitionsAborted++;
      throw err;
    } finally {
      this.#counters.recognitionsInFlight--;
    }
  }
}

/** The recognizer takes files (sox reads the header): PCM16LE mono at 24 kHz, as a WAV. */
function pcmToWav(pcm: Buffer): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(PCM_SAMPLE_RATE, 24);
  header.writeUInt32LE(PCM_SAMPLE_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}
