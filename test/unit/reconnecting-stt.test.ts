import { initializeLogger, stt } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { ReconnectingSTT } from '../../src/models/index.js';
import { FakeStreamingSTT } from '../../src/models/stt.fake.js';

// The framework's streams log through its logger.
initializeLogger({ pretty: false, level: 'fatal' });

const frame = (samples: number) => new AudioFrame(new Int16Array(samples), 16_000, 1, samples);
const fast = { maxRetry: 2, retryIntervalMs: 0, timeoutMs: 1_000 };

async function finals(stream: stt.SpeechStream, count: number): Promise<string[]> {
  const texts: string[] = [];
  for await (const ev of stream) {
    if (ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT)
      texts.push(ev.alternatives?.[0].text ?? '');
    if (texts.length === count) break;
  }
  return texts;
}

describe('ReconnectingSTT', () => {
  it('opens a new stream when the connection ends quietly, and hears what is said after it', async () => {
    const inner = new FakeStreamingSTT([{ endsAfterFrames: 2 }]);
    const stream = new ReconnectingSTT(inner).stream({ connOptions: fast });
    const heard: string[] = [];
    for (const n of [160, 320, 480, 640]) {
      stream.pushFrame(frame(n));
      heard.push(...(await finals(stream, 1)));
    }
    expect(heard).toEqual(['160', '320', '480', '640']);
    expect(inner.opened).toBe(2);
    stream.close();
  });

  it('retries a failing connection, then reports an unrecoverable error so the call can end', async () => {
    const failing = { failWith: new Error('socket error') };
    const inner = new FakeStreamingSTT([failing, failing, failing, failing]);
    const wrapper = new ReconnectingSTT(inner);
    const errors: { recoverable: boolean; error: Error }[] = [];
    wrapper.on('error', (e) => errors.push({ recoverable: e.recoverable, error: e.error }));
    const stream = wrapper.stream({ connOptions: fast });
    stream.pushFrame(frame(160));
    for await (const _ of stream) {
      // drains until the stream gives up
    }
    expect(inner.opened).toBe(3);
    expect(errors.map((e) => e.recoverable)).toEqual([false]);
    expect(errors[0]?.error.message).toMatch(/ended while the caller was still connected/);
  });

  it('ends without reconnecting when the caller side ends the input', async () => {
    const inner = new FakeStreamingSTT();
    const stream = new ReconnectingSTT(inner).stream({ connOptions: fast });
    stream.pushFrame(frame(160));
    stream.endInput();
    const events: stt.SpeechEvent[] = [];
    for await (const ev of stream) events.push(ev);
    expect(events.map((e) => e.alternatives?.[0].text)).toEqual(['160']);
    expect(inner.opened).toBe(1);
  });
});
