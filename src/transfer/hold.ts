import { voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';

/**
 * Puts the caller on hold: the session stops hearing them (nothing they say reaches the LLM) and
 * stops speaking to them, and hold music (the framework's built-in clip) plays in their room.
 * `release` undoes exactly that.
 */
export class CallerHold {
  private player?: voice.BackgroundAudioPlayer;
  private handle?: voice.PlayHandle;

  constructor(
    private readonly session: voice.AgentSession,
    private readonly room: Room,
  ) {}

  async start(): Promise<void> {
    this.session.input.setAudioEnabled(false);
    this.session.output.setAudioEnabled(false);
    const player = new voice.BackgroundAudioPlayer();
    this.player = player;
    await player.start({ room: this.room });
    this.handle = player.play({ source: voice.BuiltinAudioClip.HOLD_MUSIC, volume: 0.8 }, true);
  }

  /** Stops the music; `resumeSession` gives the caller their agent back (false on hand-off). */
  async release(resumeSession: boolean): Promise<void> {
    this.handle?.stop();
    this.handle = undefined;
    const player = this.player;
    this.player = undefined;
    if (player !== undefined) await player.close();
    if (resumeSession) {
      this.session.input.setAudioEnabled(true);
      this.session.output.setAudioEnabled(true);
    }
  }
}
