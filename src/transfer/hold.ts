import { audioFramesFromFile, voice } from '@livekit/agents';
import type { AudioFrame, Room } from '@livekit/rtc-node';
import type { HoldPort } from './ports.js';

/**
 * Hold music decoded once, into memory. @livekit/agents 1.9.0 decodes a file with ffmpeg while it
 * plays, and stopping that playback while ffmpeg still delivers data writes to a closed stream,
 * which kills the job process (ERR_INTERNAL_ASSERTION in audio.ts): a hold that ends early would
 * end the call. Playing frames from memory has nothing to abort.
 */
export async function decodeHoldMusic(): Promise<AudioFrame[]> {
  const reader = audioFramesFromFile(voice.getBuiltinAudioPath(voice.BuiltinAudioClip.HOLD_MUSIC), {
    sampleRate: 48_000,
    numChannels: 1,
  }).getReader();
  const frames: AudioFrame[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return frames;
    frames.push(value);
  }
}

/** The frames over and over, until `signal` aborts; paced by the player's audio source. */
function looped(frames: readonly AudioFrame[], signal: AbortSignal): AsyncIterable<AudioFrame> {
  return {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return {
        next: () =>
          Promise.resolve(
            signal.aborted || frames.length === 0
              ? { done: true, value: undefined }
              : { done: false, value: frames[i++ % frames.length] as AudioFrame },
          ),
      };
    },
  };
}

/**
 * Puts the caller on hold: the session stops hearing them (nothing they say reaches the LLM) and
 * stops speaking to them, and hold music plays in their room. `release` undoes exactly that.
 */
export class CallerHold implements HoldPort {
  private player?: voice.BackgroundAudioPlayer;
  private music?: AbortController;

  constructor(
    private readonly session: voice.AgentSession,
    private readonly room: Room,
    private readonly frames: Promise<readonly AudioFrame[]>,
  ) {}

  async start(): Promise<void> {
    this.session.input.setAudioEnabled(false);
    this.session.output.setAudioEnabled(false);
    const player = new voice.BackgroundAudioPlayer();
    this.player = player;
    await player.start({ room: this.room });
    const music = new AbortController();
    this.music = music;
    player.play({ source: looped(await this.frames, music.signal), volume: 0.8 });
  }

  /** Stops the music; `resumeSession` gives the caller their agent back (false on hand-off). */
  async release(resumeSession: boolean): Promise<void> {
    this.music?.abort();
    this.music = undefined;
    const player = this.player;
    this.player = undefined;
    try {
      if (player !== undefined) await player.close();
    } finally {
      // Even if the player failed to close, the caller gets their agent back.
      if (resumeSession) {
        this.session.input.setAudioEnabled(true);
        this.session.output.setAudioEnabled(true);
      }
    }
  }
}
