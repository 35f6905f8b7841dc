import { ReadableStream } from 'node:stream/web';
import type { tts } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

/**
 * Speech rendered ahead of time by the session's own TTS, for lines known before the call (the
 * greeting). Rendering in the job process's prewarm takes the synthesis off the caller's wait:
 * the OpenAI plugin's TTS is not streaming, so a live greeting waits for the whole synthesis.
 */
export class PrerenderedSpeech {
  private constructor(
    readonly text: string,
    private readonly frames: readonly AudioFrame[],
  ) {}

  static async render(
    engine: tts.TTS,
    text: string,
    signal?: AbortSignal,
  ): Promise<PrerenderedSpeech> {
    const frames: AudioFrame[] = [];
    const stream = engine.synthesize(text, undefined, signal);
    try {
      for await (const audio of stream) frames.push(audio.frame);
    } finally {
      stream.close();
    }
    if (frames.length === 0) throw new Error('the TTS returned no audio');
    return new PrerenderedSpeech(text, frames);
  }

  get audioFrames(): readonly AudioFrame[] {
    return this.frames;
  }

  /** A fresh stream of the frames, for `session.say(text, { audio })`. */
  audio(): ReadableStream<AudioFrame> {
    const frames = this.frames;
    return new ReadableStream<AudioFrame>({
      start(controller) {
        for (const frame of frames) controller.enqueue(frame);
        controller.close();
      },
    });
  }
}
