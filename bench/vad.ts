/**
 * VAD benchmark: the two ways a job process can run Silero, on the same speech. The Silero plugin
 * (onnxruntime-node, the model run on the JavaScript thread) and the framework's native local
 * inference (`inference.VAD`, the model run on libuv's thread pool, this package's default).
 * Each detector runs in its own process, so the memory figure is that detector's; each is fed the
 * same espeak-ng sentences (with pauses) as 20 ms frames at 24 kHz, as fast as it takes them,
 * with the same 300 ms silence. Reports CPU (user+system) per second of audio, i.e. the share of
 * a core one caller's detector keeps busy, the RSS the detector added, and the speech starts and
 * ends each reported, to check that both hear the same.
 *
 *   npm run bench:vad [-- --repeats 8 --runs 3]
 *
 * No stack, no network: needs espeak-ng and sox (what the stack installs). A benchmark, not a
 * test: nothing asserts a target.
 */
import { execFile } from 'node:child_process';
import { ReadableStream } from 'node:stream/web';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { inference, initializeLogger, VADEventType, type VAD } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { PCM_SAMPLE_RATE, synthesizePcm } from '../stack/offline-speech/espeak.js';

const run = promisify(execFile);
const KINDS = ['plugin', 'native'] as const;
type Kind = (typeof KINDS)[number];
const SILENCE_MS = 300;
const FRAME = PCM_SAMPLE_RATE / 50;

interface ChildResult {
  kind: Kind;
  audioS: number;
  cpuMs: number;
  rssAddedMiB: number;
  spans: string;
}

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    repeats: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
  },
});

async function speech(repeats: number): Promise<Int16Array> {
  const said = await synthesizePcm(
    'hello, i would like to book an appointment for tomorrow morning. what are your opening hours? my account number is four five six.',
    { wordsPerMinute: 170 },
  );
  const sentence = new Int16Array(said.buffer, said.byteOffset, said.length / 2);
  const gap = new Int16Array(PCM_SAMPLE_RATE); // 1 s between repeats
  const out = new Int16Array((sentence.length + gap.length) * repeats);
  for (let i = 0; i < repeats; i++) out.set(sentence, i * (sentence.length + gap.length));
  return out;
}

async function child(kind: Kind, repeats: number): Promise<ChildResult> {
  initializeLogger({ pretty: false, level: 'warn' });
  const pcm = await speech(repeats);
  const rssBefore = process.memoryUsage().rss;
  let vad: VAD;
  if (kind === 'plugin') {
    const silero = await import('@livekit/agents-plugin-silero');
    vad = await silero.VAD.load({ minSilenceDuration: SILENCE_MS });
  } else {
    vad = new inference.VAD({ minSilenceDuration: SILENCE_MS });
  }
  const stream = vad.stream();
  const spans: string[] = [];
  let inferredMs = 0;
  const reading = (async () => {
    for await (const ev of stream) {
      if (ev.type === VADEventType.INFERENCE_DONE) inferredMs = ev.timestamp;
      if (ev.type === VADEventType.START_OF_SPEECH) spans.push(`+${Math.round(ev.timestamp)}`);
      if (ev.type === VADEventType.END_OF_SPEECH) spans.push(`-${Math.round(ev.timestamp)}`);
    }
  })();
  const audioMs = (pcm.length / PCM_SAMPLE_RATE) * 1000;
  const cpu = process.cpuUsage();
  // One frame per turn of the event loop, as fast as the detector takes them.
  const frames = (async function* () {
    for (let i = 0; i + FRAME <= pcm.length; i += FRAME) {
      await yieldToLoop();
      yield new AudioFrame(pcm.slice(i, i + FRAME), PCM_SAMPLE_RATE, 1, FRAME);
    }
  })();
  stream.updateInputStream(ReadableStream.from(frames));
  while (inferredMs < audioMs - 64) await new Promise((resolve) => setTimeout(resolve, 20));
  const used = process.cpuUsage(cpu);
  const rssAddedMiB = (process.memoryUsage().rss - rssBefore) / 1048576;
  stream.close();
  await reading;
  return {
    kind,
    audioS: audioMs / 1000,
    cpuMs: (used.user + used.system) / 1000,
    rssAddedMiB,
    spans: spans.join(' '),
  };
}

async function main(): Promise<void> {
  const repeats = Math.min(30, Math.max(1, Number(values.repeats)));
  const runs = Math.min(10, Math.max(1, Number(values.runs)));
  if (values.child !== undefined) {
    const kind = KINDS.find((k) => k === values.child);
    if (kind === undefined) throw new Error(`--child must be one of ${KINDS.join(', ')}`);
    process.stdout.write(`${JSON.stringify(await child(kind, repeats))}\n`);
    process.exit(0);
  }
  const self = fileURLToPath(import.meta.url);
  const results: ChildResult[] = [];
  for (let r = 0; r < runs; r++)
    for (const kind of KINDS) {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', self, '--child', kind, '--repeats', String(repeats)],
        { timeout: 300_000, maxBuffer: 1 << 20 },
      );
      const last = stdout.trim().split('\n').at(-1) ?? '';
      results.push(JSON.parse(last) as ChildResult);
    }
  const audioS = results[0]?.audioS ?? 0;
  console.log(
    `npm run bench:vad -- --repeats ${repeats} --runs ${runs}: ${audioS.toFixed(1)} s of speech per run, 20 ms frames at 24 kHz, silence ${SILENCE_MS} ms`,
  );
  console.log(
    '| detector | CPU per second of audio (share of a core), each run | RSS added, MiB |',
  );
  console.log('| --- | --- | --- |');
  for (const kind of KINDS) {
    const mine = results.filter((r) => r.kind === kind);
    const shares = mine.map((r) => `${((r.cpuMs / 1000 / r.audioS) * 100).toFixed(2)} %`);
    const rss = mine.map((r) => r.rssAddedMiB.toFixed(0));
    console.log(`| ${kind} | ${shares.join(', ')} | ${rss.join(', ')} |`);
  }
  const spans = new Map(KINDS.map((k) => [k, results.find((r) => r.kind === k)?.spans ?? '']));
  console.log('speech starts (+) and ends (-), ms of audio, first run:');
  for (const [kind, s] of spans) console.log(`  ${kind}: ${s}`);
}

await main();
