/**
 * The job process's default voice activity detector: the native Silero detector, a fallback to the
 * plugin when the native binding does not load, the per-call silence setting, and what a job
 * process loads. Needs espeak-ng and sox (what the stack installs), not the stack.
 */
import { execFile } from 'node:child_process';
import { ReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initializeLogger, VADEventType, type VAD } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CALLER_AUDIO_SAMPLE_RATE, CALLER_FRAME_MS } from '../../src/call/caller-audio-input.js';
import { loadDefaultVad, setVadSilenceMs } from '../../src/call/process-vad.js';
import {
  DEFAULT_TURN_TAKING,
  ObservedVad,
  SpeechOnsetPause,
  type VadWindow,
} from '../../src/turns/index.js';
import { PCM_SAMPLE_RATE, synthesizePcm } from '../../stack/offline-speech/espeak.js';

const run = promisify(execFile);
const FRAME_SAMPLES = PCM_SAMPLE_RATE / 50; // 20 ms, as the room delivers it

beforeAll(() => initializeLogger({ pretty: false, level: 'silent' }));

/** Speech between `leadMs` and `trailMs` of digital silence, as 24 kHz frames. */
async function spokenFrames(text: string, leadMs: number, trailMs: number): Promise<AudioFrame[]> {
  const speech = await synthesizePcm(text, { wordsPerMinute: 170 });
  const silence = (ms: number) => new Int16Array((PCM_SAMPLE_RATE * ms) / 1000);
  const pcm = new Int16Array([
    ...silence(leadMs),
    ...new Int16Array(speech.buffer, speech.byteOffset, speech.length / 2),
    ...silence(trailMs),
  ]);
  const frames: AudioFrame[] = [];
  for (let i = 0; i + FRAME_SAMPLES <= pcm.length; i += FRAME_SAMPLES)
    frames.push(new AudioFrame(pcm.slice(i, i + FRAME_SAMPLES), PCM_SAMPLE_RATE, 1, FRAME_SAMPLES));
  return frames;
}

/** The frames as a stream the detector reads, one frame per turn of the event loop. */
function paced(frames: AudioFrame[]): ReadableStream<AudioFrame> {
  let i = 0;
  return new ReadableStream<AudioFrame>({
    async pull(controller) {
      await new Promise((resolve) => setImmediate(resolve));
      const frame = frames[i++];
      if (frame === undefined) controller.close();
      else controller.enqueue(frame);
    },
  });
}

/** Speech start and end, in ms of the stream's audio, as the detector reports them. */
async function speechSpans(
  vad: VAD,
  frames: AudioFrame[],
): Promise<{ start: number; end: number }[]> {
  const stream = vad.stream();
  const spans: { start: number; end: number }[] = [];
  let start: number | undefined;
  let inferred = 0;
  const reading = (async () => {
    for await (const ev of stream) {
      if (ev.type === VADEventType.INFERENCE_DONE) inferred = ev.timestamp;
      if (ev.type === VADEventType.START_OF_SPEECH) start = ev.timestamp - ev.speechDuration;
      if (ev.type === VADEventType.END_OF_SPEECH && start !== undefined) {
        spans.push({ start, end: ev.timestamp - ev.silenceDuration });
        start = undefined;
      }
    }
  })();
  stream.updateInputStream(paced(frames));
  const audioMs = (frames.length * FRAME_SAMPLES * 1000) / PCM_SAMPLE_RATE;
  // Every window inferred (the last partial one never is), then nothing is pending.
  await vi.waitFor(() => expect(inferred).toBeGreaterThan(audioMs - 64), { timeout: 10_000 });
  stream.close();
  await reading;
  return spans.map((s) => ({ start: Math.round(s.start), end: Math.round(s.end) }));
}

describe('the default detector', () => {
  it('is the native Silero detector when its binding loads', async () => {
    const vad = await loadDefaultVad();
    expect(vad.label).toBe('inference.VAD');
  });

  it('hears one spoken sentence where it is, and nothing in silence', async () => {
    const vad = await loadDefaultVad();
    const frames = await spokenFrames('what are your opening hours', 1000, 1500);
    const spans = await speechSpans(vad, frames);
    expect(spans).toHaveLength(1);
    // espeak-ng starts speaking within a few ms of its output; the detector's windows are 32 ms.
    expect(spans[0]!.start).toBeGreaterThanOrEqual(1000 - 100);
    expect(spans[0]!.start).toBeLessThanOrEqual(1000 + 150);
    const speechMs = (frames.length * FRAME_SAMPLES * 1000) / PCM_SAMPLE_RATE - 2500;
    // espeak-ng's clip ends in a little silence of its own: the speech ends at most that early.
    expect(spans[0]!.end).toBeGreaterThan(1000 + speechMs - 400);
    expect(spans[0]!.end).toBeLessThanOrEqual(1000 + speechMs + 100);
  });

  it('falls back to the plugin when the native binding does not load', async () => {
    const plugin = { label: 'silero.VAD' } as unknown as VAD;
    const loadPlugin = vi.fn(() => Promise.resolve(plugin));
    const vad = await loadDefaultVad(() => {
      throw new Error('@livekit/local-inference: failed to load');
    }, loadPlugin);
    expect(vad).toBe(plugin);
    expect(loadPlugin).toHaveBeenCalledOnce();
  });

  it('does not load onnxruntime into the process, and the call modules do not either', async () => {
    // A fresh process: this one may have loaded anything.
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `
      import { readFileSync } from 'node:fs';
      await import('./src/index.ts');
      await import('./src/call/run-call.ts');
      const { loadDefaultVad } = await import('./src/call/process-vad.ts');
      const vad = await loadDefaultVad();
      const maps = readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ label: vad.label, onnxruntime: /onnxruntime/.test(maps), native: /local-inference/.test(maps) }));
      process.exit(0);`;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, timeout: 60_000 },
    );
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      label: 'inference.VAD',
      onnxruntime: false,
      native: true,
    });
  }, 70_000);
});

describe("the caller's frames", () => {
  it('each get the detector decision on their own audio as they arrive, not one frame later', async () => {
    // A resampler in front of the detector holds a sample back, so each window would wait for
    // the next frame: 32 ms later to every speech start and end.
    const vad = await loadDefaultVad();
    const stream = vad.stream();
    let decisions = 0;
    const reading = (async () => {
      for await (const ev of stream) if (ev.type === VADEventType.INFERENCE_DONE) decisions++;
    })();
    const samples = (CALLER_AUDIO_SAMPLE_RATE * CALLER_FRAME_MS) / 1000;
    let push: ((frame: AudioFrame) => void) | undefined;
    stream.updateInputStream(
      new ReadableStream<AudioFrame>({
        start(controller) {
          push = (frame) => controller.enqueue(frame);
        },
      }),
    );
    for (let sent = 1; sent <= 4; sent++) {
      push!(new AudioFrame(new Int16Array(samples), CALLER_AUDIO_SAMPLE_RATE, 1, samples));
      await vi.waitFor(() => expect(decisions).toBe(sent), { timeout: 2_000 });
    }
    stream.close();
    await reading;
  });
});

describe('the observed detector', () => {
  it("reports each window's probability as the session reads it, and the session still gets every event", async () => {
    const inner = await loadDefaultVad();
    const seen: VadWindow[] = [];
    const vad = new ObservedVad(inner, (w) => seen.push(w));
    expect(vad.label).toBe(inner.label);
    const frames = await spokenFrames('what are your opening hours', 600, 600);
    const stream = vad.stream();
    const read: (VadWindow & { type: VADEventType })[] = [];
    const reading = (async () => {
      for await (const ev of stream)
        read.push({
          type: ev.type,
          probability: ev.probability,
          speaking: ev.speaking,
          accumulatedSpeechMs: ev.rawAccumulatedSpeech,
        });
    })();
    stream.updateInputStream(paced(frames));
    await vi.waitFor(
      () => expect(read.filter((e) => e.type === VADEventType.END_OF_SPEECH)).toHaveLength(1),
      { timeout: 10_000 },
    );
    stream.close();
    await reading;
    const windows = read.filter((e) => e.type === VADEventType.INFERENCE_DONE);
    expect(seen).toEqual(windows.map(({ type: _type, ...w }) => w));
    // Silence scores low and speech high: the probabilities are the detector's own.
    expect(seen.slice(0, 10).every((w) => w.probability < 0.3)).toBe(true);
    expect(Math.max(...seen.map((w) => w.probability))).toBeGreaterThan(0.9);
    // The VAD's own state rides along: a run of speech windows counted, then its speech.
    expect(seen.some((w) => w.accumulatedSpeechMs > 0)).toBe(true);
    expect(seen.some((w) => w.speaking)).toBe(true);
    expect(read.filter((e) => e.type === VADEventType.START_OF_SPEECH)).toHaveLength(1);
    await vad.close();
    expect(inner.listenerCount('metrics_collected')).toBe(0);
  });
});

/** `pcm` as 20 ms frames at the espeak rate. */
function framesOf(pcm: Int16Array): AudioFrame[] {
  const frames: AudioFrame[] = [];
  for (let i = 0; i + FRAME_SAMPLES <= pcm.length; i += FRAME_SAMPLES)
    frames.push(new AudioFrame(pcm.slice(i, i + FRAME_SAMPLES), PCM_SAMPLE_RATE, 1, FRAME_SAMPLES));
  return frames;
}

/** Seeded white noise shaped by `envelope` (0-1 over the burst): the same samples every run. */
function noiseBurst(ms: number, amplitude: number, envelope: (t: number) => number): Int16Array {
  const n = (PCM_SAMPLE_RATE * ms) / 1000;
  const out = new Int16Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.round(((seed / 0x7fffffff) * 2 - 1) * amplitude * envelope(i / n));
  }
  return out;
}

/**
 * The onset pause driven by the real detector over `sound` (between 600 ms and 1200 ms of
 * silence) while the agent speaks, with no framework to stop the agent: what the pause did.
 */
async function onsetPauseOver(sound: Int16Array): Promise<{ events: string[]; speech: boolean }> {
  const events: string[] = [];
  const output = { pause: () => events.push('pause'), resume: () => events.push('resume') };
  const onset = new SpeechOnsetPause({
    onsetProbability: DEFAULT_TURN_TAKING.phone.onsetPauseProbability,
    // Far beyond the audio: any resume here is the detector's doing.
    confirmMs: 60_000,
    echoWarmupMs: 0,
    output: () => output,
  });
  onset.speechCreated({ allowInterruptions: true, interrupted: false, done: () => false });
  onset.agentState('speaking');
  const silence = (ms: number) => new Int16Array((PCM_SAMPLE_RATE * ms) / 1000);
  const frames = framesOf(new Int16Array([...silence(600), ...sound, ...silence(1200)]));
  const vad = new ObservedVad(await loadDefaultVad(), (w) => onset.window(w));
  const stream = vad.stream();
  let inferredMs = 0;
  let speech = false;
  const reading = (async () => {
    for await (const ev of stream) {
      if (ev.type === VADEventType.INFERENCE_DONE) inferredMs = ev.timestamp;
      if (ev.type === VADEventType.START_OF_SPEECH) speech = true;
    }
  })();
  stream.updateInputStream(paced(frames));
  const audioMs = (frames.length * FRAME_SAMPLES * 1000) / PCM_SAMPLE_RATE;
  await vi.waitFor(() => expect(inferredMs).toBeGreaterThan(audioMs - 64), { timeout: 10_000 });
  stream.close();
  await reading;
  onset.close();
  await vad.close();
  return { events, speech };
}

describe('the onset pause on the real detector', () => {
  it.each([
    ['a 20 ms burst of noise', noiseBurst(20, 8_000, () => 1)],
    ['150 ms of noise', noiseBurst(150, 8_000, () => 1)],
    ['a cough-like burst', noiseBurst(200, 12_000, (t) => Math.exp(-6 * t))],
    ['a knock', noiseBurst(30, 20_000, (t) => Math.exp(-20 * t))],
  ])('does not pause the agent for %s', async (_name, sound) => {
    expect(await onsetPauseOver(sound)).toEqual({ events: [], speech: false });
  });

  it('pauses at a short "uh", which the detector calls speech, and lets go when that speech ends', async () => {
    const uh = await synthesizePcm('uh', { wordsPerMinute: 450 });
    const { events, speech } = await onsetPauseOver(
      new Int16Array(uh.buffer, uh.byteOffset, uh.length / 2),
    );
    // With a session, the framework would stop the agent at that speech; here nothing does, so the
    // pause ends with the detector's speech instead of holding the agent for confirmMs.
    expect(speech).toBe(true);
    expect(events).toEqual(['pause', 'resume']);
  });
});

describe('the observed detector, with an observer that fails', () => {
  it('still gives the session every event', async () => {
    const inner = await loadDefaultVad();
    const vad = new ObservedVad(inner, () => {
      throw new Error('observer bug');
    });
    const frames = await spokenFrames('what are your opening hours', 600, 600);
    const stream = vad.stream();
    const types: VADEventType[] = [];
    const reading = (async () => {
      for await (const ev of stream) types.push(ev.type);
    })();
    stream.updateInputStream(paced(frames));
    await vi.waitFor(() => expect(types).toContain(VADEventType.END_OF_SPEECH), {
      timeout: 10_000,
    });
    stream.close();
    await reading;
    expect(types).toContain(VADEventType.START_OF_SPEECH);
    expect(types.filter((t) => t === VADEventType.INFERENCE_DONE).length).toBeGreaterThan(40);
    await vad.close();
  });
});

describe('setVadSilenceMs', () => {
  it('moves the end of speech by the silence it sets', async () => {
    const frames = await spokenFrames('what are your opening hours', 500, 2000);
    const ends: number[] = [];
    for (const silenceMs of [300, 1000]) {
      const vad = await loadDefaultVad();
      expect(setVadSilenceMs(vad, silenceMs)).toBe(true);
      const stream = vad.stream();
      let endAt: number | undefined;
      const reading = (async () => {
        for await (const ev of stream)
          if (ev.type === VADEventType.END_OF_SPEECH) endAt = ev.timestamp;
      })();
      stream.updateInputStream(paced(frames));
      await vi.waitFor(() => expect(endAt).toBeDefined(), { timeout: 10_000 });
      stream.close();
      await reading;
      ends.push(endAt!);
    }
    // The end is reported once that much silence has passed: 700 ms apart, to a 32 ms window.
    expect(Math.abs(ends[1]! - ends[0]! - 700)).toBeLessThanOrEqual(64);
  });

  it.each([
    ['inference.VAD', true],
    ['silero.VAD', true],
    ['my.VAD', false],
  ])('a %s detector: set = %s', (label, expected) => {
    const updateOptions = vi.fn();
    const vad = { label, updateOptions } as unknown as VAD;
    expect(setVadSilenceMs(vad, 450)).toBe(expected);
    expect(updateOptions).toHaveBeenCalledTimes(expected ? 1 : 0);
    if (expected) expect(updateOptions).toHaveBeenCalledWith({ minSilenceDuration: 450 });
  });
});
