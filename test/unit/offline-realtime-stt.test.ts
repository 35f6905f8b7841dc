/**
 * The offline speech server's realtime transcription WebSocket, driven by the real OpenAI plugin
 * (the production streaming-STT code path) and by a raw client (errors, cleanup, speculative
 * finals), plus the VAD and partial-transcript rules as tables. Needs espeak-ng, sox and
 * python3-pocketsphinx (what the stack installs), not the stack: each test starts its own server
 * on 127.0.0.1.
 */
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeLogger, stt } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PCM_SAMPLE_RATE, synthesizePcm } from '../../stack/offline-speech/espeak.js';
import {
  appendOnlyDelta,
  energyThresholdDbfs,
  levelDbfs,
  SPECULATE_AFTER_MS,
  stableWords,
  VAD_IDLE,
  vadStep,
  type Recognizer,
  type VadState,
} from '../../stack/offline-speech/realtime-transcription.js';
import { prefixGrammar, type RecognizeOptions } from '../../stack/offline-speech/recognizer.js';
import {
  createOfflineSpeechServer,
  type OfflineSpeechServer,
} from '../../stack/offline-speech/server.js';

// Long and unhurried on purpose: the first interims need partial runs that agree (a partial is due
// every 250 ms of audio and takes ~0.1 s here, more when the machine is busy) to finish before the
// end of speech.
const PHRASE = 'i want to give my account number';
const WORDS_PER_MINUTE = 130;
const FRAME_SAMPLES = PCM_SAMPLE_RATE / 50; // 20 ms
const silence = (ms: number) => Buffer.alloc(((PCM_SAMPLE_RATE * ms) / 1000) * 2);

let phrasePcm: Buffer;
let privateTmp: string;
let savedTmpdir: string | undefined;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'warn' });
  // The recognizer's temp dirs land here, so "no temp dir left" is checkable in this file alone.
  savedTmpdir = process.env.TMPDIR;
  privateTmp = await mkdtemp(join(tmpdir(), 'sb-rt-test-'));
  process.env.TMPDIR = privateTmp;
  phrasePcm = await synthesizePcm(PHRASE, { wordsPerMinute: WORDS_PER_MINUTE });
});

afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await rm(privateTmp, { recursive: true, force: true });
});

async function startServer(
  opts: Parameters<typeof createOfflineSpeechServer>[0] = {},
): Promise<{ server: OfflineSpeechServer; port: number; stop: () => Promise<void> }> {
  const server = createOfflineSpeechServer(opts);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { server, port, stop };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pushes PCM as 20 ms frames at the pace of real time, as a room's audio track would. */
async function pushPaced(stream: stt.SpeechStream, pcm: Buffer): Promise<void> {
  const start = performance.now();
  for (let i = 0; (i + 1) * FRAME_SAMPLES * 2 <= pcm.length; i++) {
    const bytes = pcm.subarray(i * FRAME_SAMPLES * 2, (i + 1) * FRAME_SAMPLES * 2);
    const samples = new Int16Array(FRAME_SAMPLES);
    for (let k = 0; k < FRAME_SAMPLES; k++) samples[k] = bytes.readInt16LE(k * 2);
    stream.pushFrame(new AudioFrame(samples, PCM_SAMPLE_RATE, 1, FRAME_SAMPLES));
    const due = start + (i + 1) * 20 - performance.now();
    if (due > 0) await sleep(due);
  }
}

/** Collects a stream's events until its first FINAL_TRANSCRIPT (or the stream ends). */
async function untilFinal(stream: stt.SpeechStream): Promise<stt.SpeechEvent[]> {
  const events: stt.SpeechEvent[] = [];
  for await (const event of stream) {
    events.push(event);
    if (event.type === stt.SpeechEventType.FINAL_TRANSCRIPT) break;
  }
  return events;
}

function summarize(events: stt.SpeechEvent[]): { type: string; text: string }[] {
  return events
    .filter((e) => e.type !== stt.SpeechEventType.RECOGNITION_USAGE)
    .map((e) => ({
      type: stt.SpeechEventType[e.type],
      text: e.alternatives?.[0]?.text ?? '',
    }));
}

/** Interims that only grow toward the phrase (more than one: partials are cheap), then it. */
function expectInterimsThenFinal(events: stt.SpeechEvent[]): void {
  const seen = summarize(events);
  const finalAt = seen.findIndex((e) => e.type === 'FINAL_TRANSCRIPT');
  const interims = seen.filter((e, i) => e.type === 'INTERIM_TRANSCRIPT' && i < finalAt);
  expect(finalAt, JSON.stringify(seen)).toBeGreaterThan(-1);
  expect(interims.length, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
  for (const [i, interim] of interims.entries()) {
    expect(PHRASE.startsWith(interim.text), interim.text).toBe(true);
    if (i > 0) expect(interim.text.length).toBeGreaterThan(interims[i - 1]!.text.length);
  }
  expect(seen[finalAt]!.text).toBe(PHRASE);
}

describe('the offline realtime transcription WebSocket, through the OpenAI plugin', () => {
  const speech = () => Buffer.concat([silence(300), phrasePcm, silence(1000)]);

  it('finds the turn itself (server_vad, the plugin default) and sends interims before the final', async () => {
    const { server, port, stop } = await startServer();
    const plugin = new openai.STT({
      apiKey: 'offline',
      baseURL: `http://127.0.0.1:${port}/v1`,
      model: 'pocketsphinx-grammar',
      useRealtime: true,
    });
    // What the plugin sends for a model that is not realtime-only.
    expect(plugin.turnDetection).toEqual({
      type: 'server_vad',
      threshold: 0.5,
      prefix_padding_ms: 600,
      silence_duration_ms: 350,
    });
    const stream = plugin.stream();
    try {
      const final = untilFinal(stream);
      await pushPaced(stream, speech());
      const events = await final;
      expectInterimsThenFinal(events);
      const types = summarize(events).map((e) => e.type);
      // Turn events come from the server's VAD here: the plugin has none of its own.
      expect(types.indexOf('START_OF_SPEECH')).toBe(0);
      expect(types).toContain('END_OF_SPEECH');
      // The final was recognized during the VAD's silence_duration_ms, not after it.
      expect(server.realtime.stats().speculativeFinals).toBe(1);
    } finally {
      stream.close();
      await stop();
    }
  }, 30_000);

  it('commits on the plugin VAD’s end of speech (turnDetection: null, Silero)', async () => {
    const { port, stop } = await startServer();
    const plugin = new openai.STT({
      apiKey: 'offline',
      baseURL: `http://127.0.0.1:${port}/v1`,
      model: 'pocketsphinx-grammar',
      useRealtime: true,
      turnDetection: null,
      vad: await silero.VAD.load(),
    });
    const stream = plugin.stream();
    try {
      const final = untilFinal(stream);
      await pushPaced(stream, speech());
      expectInterimsThenFinal(await final);
    } finally {
      // Server first, and wait for the plugin to see the socket close (its event stream ends):
      // with a plugin VAD, ending the stream's input while connected calls VADStream.endInput,
      // which in @livekit/agents 1.9.0 always rejects ("WritableStream is locked") with nobody
      // to catch it. Once disconnected the plugin has no VAD stream left to end.
      await stop();
      for await (const _ of stream) {
        // drain
      }
      stream.close();
    }
  }, 30_000);

  it('commits on flush() when there is neither turn detection nor a VAD (turnDetection: null, vad: null)', async () => {
    const { port, stop } = await startServer();
    const plugin = new openai.STT({
      apiKey: 'offline',
      baseURL: `http://127.0.0.1:${port}/v1`,
      model: 'pocketsphinx-grammar',
      useRealtime: true,
      turnDetection: null,
      vad: null,
    });
    const stream = plugin.stream();
    try {
      const final = untilFinal(stream);
      await pushPaced(stream, Buffer.concat([silence(300), phrasePcm, silence(300)]));
      stream.flush();
      expectInterimsThenFinal(await final);
    } finally {
      stream.close();
      await stop();
    }
  }, 30_000);
});

type ServerEvent = { type: string } & Record<string, any>;

/** A bare client: every server event, in order, and a way to wait for the next of a kind. */
class RawClient {
  readonly events: ServerEvent[] = [];
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.events.push(JSON.parse((data as Buffer).toString('utf8')) as ServerEvent);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async connect(port: number, query = 'intent=transcription&model=m'): Promise<RawClient> {
    const client = new RawClient(new WebSocket(`ws://127.0.0.1:${port}/v1/realtime?${query}`));
    await once(client.ws, 'open');
    await client.next('session.created');
    return client;
  }

  send(event: unknown): void {
    this.ws.send(typeof event === 'string' ? event : JSON.stringify(event));
  }

  append(pcm: Buffer): void {
    this.send({ type: 'input_audio_buffer.append', audio: pcm.toString('base64') });
  }

  /** The first event of `type` not yet taken, waiting up to `timeoutMs` for it. */
  async next(type: string, timeoutMs = 10_000): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.events.findIndex((e) => e.type === type);
      if (at >= 0) return this.events.splice(at, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${type} within ${timeoutMs} ms: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async manualTurns(): Promise<void> {
    this.send({
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    const updated = await this.next('session.updated');
    expect(updated.session.audio.input.turn_detection).toBeNull();
  }
}

describe('the offline realtime transcription WebSocket, raw', () => {
  let server: OfflineSpeechServer;
  let port: number;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ server, port, stop } = await startServer());
  });

  afterAll(async () => {
    await stop();
  });

  it('answers malformed messages with error events and stays usable', async () => {
    const client = await RawClient.connect(port);
    await client.manualTurns();
    const malformed: [string, unknown, string, string | null][] = [
      ['bad JSON', '{"type": "input_audio_buffer.append",', 'invalid_json', null],
      ['no type', { audio: '' }, 'missing_required_parameter', 'type'],
      ['an unknown type', { type: 'response.create' }, 'invalid_value', 'type'],
      ['no audio', { type: 'input_audio_buffer.append' }, 'missing_required_parameter', 'audio'],
      [
        'bad base64',
        { type: 'input_audio_buffer.append', audio: 'n0t base64!' },
        'invalid_value',
        'audio',
      ],
      [
        'half a sample',
        { type: 'input_audio_buffer.append', audio: 'AA==' },
        'invalid_value',
        'audio',
      ],
      [
        'semantic_vad',
        {
          type: 'session.update',
          session: {
            type: 'transcription',
            audio: { input: { turn_detection: { type: 'semantic_vad' } } },
          },
        },
        'invalid_value',
        'session.audio.input.turn_detection.type',
      ],
      [
        'another audio format',
        {
          type: 'session.update',
          session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } },
        },
        'invalid_value',
        'session.audio.input.format.type',
      ],
    ];
    for (const [what, message, code, param] of malformed) {
      client.send(message);
      const { error } = await client.next('error');
      expect({ what, type: error.type, code: error.code, param: error.param }).toEqual({
        what,
        type: 'invalid_request_error',
        code,
        param,
      });
    }
    client.append(Buffer.concat([silence(200), phrasePcm, silence(200)]));
    client.send({ type: 'input_audio_buffer.commit' });
    const committed = await client.next('input_audio_buffer.committed');
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    expect(completed).toMatchObject({
      item_id: committed.item_id,
      content_index: 0,
      transcript: PHRASE,
    });
    expect(client.events.filter((e) => e.type === 'error')).toEqual([]);
    client.ws.close();
  }, 30_000);

  it('refuses to commit an empty buffer, as OpenAI does', async () => {
    const client = await RawClient.connect(port);
    await client.manualTurns();
    client.send({ type: 'input_audio_buffer.commit', event_id: 'evt_1' });
    const { error } = await client.next('error');
    expect(error).toMatchObject({
      type: 'invalid_request_error',
      code: 'input_audio_buffer_commit_empty',
      event_id: 'evt_1',
    });
    client.append(silence(50));
    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    client.send({ type: 'input_audio_buffer.commit' });
    expect((await client.next('error')).error.code).toBe('input_audio_buffer_commit_empty');
    client.ws.close();
  });

  it('with server_vad, reports speech start and stop, then commits and transcribes', async () => {
    const client = await RawClient.connect(port);
    client.send({
      type: 'session.update',
      session: {
        type: 'transcription',
        audio: {
          input: {
            turn_detection: {
              type: 'server_vad',
              prefix_padding_ms: 200,
              silence_duration_ms: 400,
            },
          },
        },
      },
    });
    await client.next('session.updated');
    // All at once: the VAD runs on the audio's own clock, not on arrival times.
    client.append(Buffer.concat([silence(500), phrasePcm, silence(600)]));
    const started = await client.next('input_audio_buffer.speech_started');
    const stopped = await client.next('input_audio_buffer.speech_stopped');
    const committed = await client.next('input_audio_buffer.committed');
    expect(started.audio_start_ms).toBe(500 - 200);
    // The end of speech is counted after the silence that decided it.
    expect(stopped.audio_end_ms).toBeGreaterThanOrEqual(500 + 400);
    expect(stopped.audio_end_ms).toBeLessThanOrEqual(500 + phrasePcm.length / 48 + 400 + 20);
    expect(committed).toMatchObject({ item_id: started.item_id, previous_item_id: null });
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    expect(completed.transcript).toBe(PHRASE);
    client.ws.close();
  }, 30_000);

  it('reports a recognizer failure for the utterance alone (no error event), and transcribes the next one', async () => {
    let calls = 0;
    const failing = await startServer({
      realtimeRecognizer: async () => {
        calls++;
        if (calls === 1) throw new Error('pocketsphinx exited with code 1');
        return { text: 'hello', durationSeconds: 1 };
      },
    });
    try {
      const client = await RawClient.connect(failing.port);
      await client.manualTurns();
      client.append(silence(200));
      client.send({ type: 'input_audio_buffer.commit' });
      const committed = await client.next('input_audio_buffer.committed');
      const failed = await client.next('conversation.item.input_audio_transcription.failed');
      expect(failed).toMatchObject({ item_id: committed.item_id, content_index: 0 });
      expect(failed.error).toMatchObject({ type: 'server_error', code: 'transcription_failed' });
      expect(failed.error.message).toContain('pocketsphinx exited with code 1');
      client.append(silence(200));
      client.send({ type: 'input_audio_buffer.commit' });
      expect(
        (await client.next('conversation.item.input_audio_transcription.completed')).transcript,
      ).toBe('hello');
      // As at OpenAI: the plugin would end its stream on an error event.
      expect(client.events.filter((e) => e.type === 'error')).toEqual([]);
      client.ws.close();
    } finally {
      await failing.stop();
    }
  });

  describe('speculative finals (server_vad)', () => {
    /** Loud enough for the energy VAD (-21 dBFS): speech, for a stand-in recognizer. */
    const tone = (ms: number) => {
      const pcm = silence(ms);
      for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(i % 2 ? 3000 : -3000, i * 2);
      return pcm;
    };

    interface Call {
      search: RecognizeOptions['search'];
      ms: number;
      aborted: boolean;
    }

    /**
     * Answers "<n> ms" for n ms of audio after a moment (so the answer names the audio it heard),
     * stops when aborted, as the real one does, and fails where `fails` says.
     */
    function fakeRecognizer(calls: Call[], fails: (call: Call) => boolean = () => false) {
      const recognizer: Recognizer = (audio, opts) =>
        new Promise((resolve, reject) => {
          const call: Call = {
            search: opts.search,
            ms: Math.round((audio.length - 44) / 48),
            aborted: false,
          };
          calls.push(call);
          const timer = setTimeout(() => {
            if (fails(call)) reject(new Error('decoder restarted'));
            else resolve({ text: `${call.ms} ms`, durationSeconds: call.ms / 1000 });
          }, 30);
          opts.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            call.aborted = true;
            reject(new Error('aborted'));
          });
        });
      return recognizer;
    }

    async function vadClient(port: number): Promise<RawClient> {
      const client = await RawClient.connect(port);
      client.send({
        type: 'session.update',
        session: {
          type: 'transcription',
          audio: {
            input: {
              turn_detection: {
                type: 'server_vad',
                prefix_padding_ms: 0,
                silence_duration_ms: 400,
              },
            },
          },
        },
      });
      await client.next('session.updated');
      return client;
    }

    const finals = (calls: Call[]) =>
      calls.filter((c) => c.search === 'spans').map(({ ms, aborted }) => ({ ms, aborted }));

    it(`recognizes after ${SPECULATE_AFTER_MS} ms of quiet, and that answer is the final`, async () => {
      const calls: Call[] = [];
      const fake = await startServer({ realtimeRecognizer: fakeRecognizer(calls) });
      try {
        const client = await vadClient(fake.port);
        // Speech from 200 to 700 ms; the VAD stops at 700 + 400.
        client.append(Buffer.concat([silence(200), tone(500), silence(600)]));
        const stopped = await client.next('input_audio_buffer.speech_stopped');
        const completed = await client.next(
          'conversation.item.input_audio_transcription.completed',
        );
        expect(stopped.audio_end_ms).toBe(1100);
        // The speculation heard the speech and 100 ms of quiet; nothing ran after the stop.
        expect(completed.transcript).toBe('600 ms');
        expect(finals(calls)).toEqual([{ ms: 600, aborted: false }]);
        // Usage is the committed audio's.
        expect(completed.usage).toEqual({ type: 'duration', seconds: 1 });
        expect(fake.server.realtime.stats().speculativeFinals).toBe(1);
        client.ws.close();
      } finally {
        await fake.stop();
      }
    });

    it('abandons the speculation when speech resumes before the stop', async () => {
      const calls: Call[] = [];
      const fake = await startServer({ realtimeRecognizer: fakeRecognizer(calls) });
      try {
        const client = await vadClient(fake.port);
        // A 240 ms pause inside the utterance: a speculation starts, then speech resumes.
        client.append(
          Buffer.concat([silence(200), tone(500), silence(240), tone(300), silence(600)]),
        );
        const completed = await client.next(
          'conversation.item.input_audio_transcription.completed',
        );
        expect(completed.transcript).toBe('1140 ms');
        expect(finals(calls)).toEqual([
          { ms: 600, aborted: true },
          { ms: 1140, aborted: false },
        ]);
        expect(client.events.map((e) => e.type)).not.toContain(
          'conversation.item.input_audio_transcription.failed',
        );
        client.ws.close();
      } finally {
        await fake.stop();
      }
    });

    it('recognizes the committed audio afresh when the speculation failed', async () => {
      const calls: Call[] = [];
      const fake = await startServer({
        realtimeRecognizer: fakeRecognizer(calls, (call) => call.ms === 600),
      });
      try {
        const client = await vadClient(fake.port);
        client.append(Buffer.concat([silence(200), tone(500), silence(600)]));
        const completed = await client.next(
          'conversation.item.input_audio_transcription.completed',
        );
        expect(completed.transcript).toBe('900 ms');
        expect(finals(calls)).toEqual([
          { ms: 600, aborted: false },
          { ms: 900, aborted: false },
        ]);
        expect(fake.server.realtime.stats().speculativeFinals).toBe(0);
        client.ws.close();
      } finally {
        await fake.stop();
      }
    });

    it('does not speculate when the client commits (turn_detection: null)', async () => {
      const calls: Call[] = [];
      const fake = await startServer({ realtimeRecognizer: fakeRecognizer(calls) });
      try {
        const client = await RawClient.connect(fake.port);
        await client.manualTurns();
        client.append(Buffer.concat([silence(200), tone(500), silence(600)]));
        client.send({ type: 'input_audio_buffer.commit' });
        const completed = await client.next(
          'conversation.item.input_audio_transcription.completed',
        );
        // The whole buffer, as at OpenAI.
        expect(completed.transcript).toBe('1300 ms');
        expect(finals(calls)).toEqual([{ ms: 1300, aborted: false }]);
        client.ws.close();
      } finally {
        await fake.stop();
      }
    });
  });

  it('takes only transcription sessions on /v1/realtime', async () => {
    for (const [path, status] of [
      ['/v1/realtime?model=gpt-realtime', 400],
      ['/v1/other?intent=transcription', 404],
    ] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      const [err] = (await once(ws, 'error')) as [Error];
      expect(err.message).toContain(String(status));
    }
  });

  it.each([
    ['a partial', false],
    ['the final', true],
  ])('frees everything when the socket closes while %s runs', async (_what, commit) => {
    const before = server.realtime.stats();
    const client = await RawClient.connect(port);
    await client.manualTurns();
    // Over a second of speech in one append: a partial starts at once.
    client.append(Buffer.concat([phrasePcm, silence(200)]));
    if (commit) {
      client.send({ type: 'input_audio_buffer.commit' });
      await client.next('input_audio_buffer.committed');
    }
    await expect.poll(() => server.realtime.stats().recognitionsInFlight).toBeGreaterThan(0);
    client.ws.terminate();
    await expect
      .poll(() => server.realtime.stats(), { timeout: 5_000 })
      .toMatchObject({ connections: 0, recognitionsInFlight: 0 });
    expect(server.realtime.stats().recognitionsAborted).toBeGreaterThan(before.recognitionsAborted);
    expect(client.events.map((e) => e.type)).not.toContain(
      'conversation.item.input_audio_transcription.completed',
    );
    // The recognizer's temp dirs (sb-asr-*) went with the runs that were stopped.
    await expect.poll(() => readdir(privateTmp)).toEqual([]);
  });
});

describe('the energy VAD', () => {
  it.each([
    [0, -90],
    [0.5, -45],
    [1, 0],
    [-1, -90],
    [2, 0],
  ])('threshold %d is a frame level of %d dBFS', (threshold, dbfs) => {
    expect(energyThresholdDbfs(threshold)).toBe(dbfs);
  });

  it.each([
    ['digital silence', new Int16Array(480), -Infinity],
    ['full scale', new Int16Array(480).fill(-32768), 0],
    ['half scale', new Int16Array(480).fill(16384), -6.02],
    ['one LSB', new Int16Array(480).fill(1), -90.31],
  ])('measures %s', (_what, samples, dbfs) => {
    if (dbfs === -Infinity) expect(levelDbfs(samples)).toBe(-Infinity);
    else expect(levelDbfs(samples)).toBeCloseTo(dbfs, 2);
  });

  // S = speech frame (-20 dBFS), . = silence (-70 dBFS), 20 ms each; threshold -45 dBFS.
  it.each([
    ['three speech frames start speech', 'SSS', 100, [[2, 'speech_started']]],
    ['two are a click', 'SS.SS.', 100, []],
    ['a gap resets the onset count', 'SS.SSS', 100, [[5, 'speech_started']]],
    [
      'silence_duration_ms of silence stops it',
      'SSS.....',
      100,
      [
        [2, 'speech_started'],
        [7, 'speech_stopped'],
      ],
    ],
    ['shorter pauses do not', 'SSS....S....S', 100, [[2, 'speech_started']]],
    [
      'it starts again after a stop',
      'SSS.....SSS',
      100,
      [
        [2, 'speech_started'],
        [7, 'speech_stopped'],
        [10, 'speech_started'],
      ],
    ],
    ['a frame at the threshold is speech', '===', 100, [[2, 'speech_started']]],
  ])('%s (%s, silence %d ms)', (_what, frames, silenceDurationMs, expected) => {
    const level = { S: -20, '.': -70, '=': -45 } as Record<string, number>;
    let state: VadState = VAD_IDLE;
    const events: [number, string][] = [];
    for (let i = 0; i < frames.length; i++) {
      const step = vadStep(state, level[frames.charAt(i)]!, {
        thresholdDbfs: -45,
        silenceDurationMs,
      });
      state = step.state;
      if (step.event) events.push([i, step.event]);
    }
    expect(events).toEqual(expected);
  });

  it('says how far back the onset was when speech starts', () => {
    let state: VadState = VAD_IDLE;
    for (let i = 0; i < 3; i++)
      state = vadStep(state, -20, { thresholdDbfs: -45, silenceDurationMs: 100 }).state;
    expect(state).toEqual({ speaking: true, speechMs: 60, silenceMs: 0 });
  });
});

describe('partial transcripts only ever add words', () => {
  const w = (s: string) => s.split(' ').filter(Boolean);

  it.each([
    ['nothing before: nothing is agreed yet', '', 'what are your', ''],
    [
      'agreement, less the word being spoken',
      'what are your',
      'what are your opening hours',
      'what are your',
    ],
    ['the last word is held back even when agreed', 'what are', 'what are', 'what'],
    ['a corrected first guess is not agreed', 'what are your', 'when are you open', ''],
    [
      'agreement stops at the first difference',
      'when can i come in today',
      'when can i come in tomorrow',
      'when can i come in',
    ],
    ['one word heard is not yet stable', 'hello', 'hello', ''],
  ])('stableWords: %s', (_what, previous, current, stable) => {
    expect(stableWords(w(previous), w(current))).toEqual(w(stable));
  });

  it.each([
    ['the first words', '', 'what are', 'what are'],
    ['new words, after a space', 'what are', 'what are your opening', ' your opening'],
    ['nothing new', 'what are your', 'what are your', ''],
    ['fewer stable words than sent: nothing', 'what are your', 'what are', ''],
    ['stable words that contradict what was sent: nothing', 'what are', 'when are you', ''],
    ['nothing stable yet', '', '', ''],
  ])('appendOnlyDelta: %s', (_what, sent, stable, delta) => {
    expect(appendOnlyDelta(w(sent), w(stable))).toBe(delta);
  });

  it('recognizes partials with a grammar of every phrase prefix', () => {
    expect(prefixGrammar(['what are you', 'what is'])).toBe(
      '#JSGF V1.0;\ngrammar prefixes;\npublic <utterance> = what | what are | what are you | what is;\n',
    );
  });
});
