import { stt } from '@livekit/agents';

/**
 * A streaming STT for tests: each pushed frame comes back as a final transcript of its sample
 * count. `connections` scripts each stream: it ends quietly after `endsAfterFrames` frames (a
 * closed socket), or fails at once with `failWith` (a refused connection); streams beyond the
 * script never end.
 */
export class FakeStreamingSTT extends stt.STT {
  readonly label = 'fake-streaming-stt';
  opened = 0;

  constructor(private readonly connections: { endsAfterFrames?: number; failWith?: Error }[] = []) {
    super({ streaming: true, interimResults: false });
  }

  protected _recognize(): Promise<stt.SpeechEvent> {
    return Promise.reject(new Error('FakeStreamingSTT only streams'));
  }

  stream(): stt.SpeechStream {
    const script = this.connections[this.opened++] ?? {};
    return new FakeSpeechStream(this, script);
  }
}

class FakeSpeechStream extends stt.SpeechStream {
  readonly label = 'fake-speech-stream';

  constructor(
    owner: FakeStreamingSTT,
    private readonly script: { endsAfterFrames?: number; failWith?: Error },
  ) {
    super(owner, undefined, { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 1_000 });
  }

  protected async run(): Promise<void> {
    // A connection that cannot be opened.
    if (this.script.failWith !== undefined) throw this.script.failWith;
    let frames = 0;
    for await (const frame of this.input) {
      if (frame === FakeSpeechStream.FLUSH_SENTINEL) continue;
      this.queue.put({
        type: stt.SpeechEventType.FINAL_TRANSCRIPT,
        alternatives: [
          {
            text: String(frame.samplesPerChannel),
            language: 'en' as stt.SpeechData['language'],
            startTime: 0,
            endTime: 0,
            confidence: 1,
          },
        ],
      });
      if (++frames === this.script.endsAfterFrames) return;
    }
  }
}
