import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';

/**
 * The agent's voice, handed to the room in 20 ms pieces. The speech models deliver 100 ms frames,
 * and rtc-node's AudioSource takes a frame only once its queue has room for all of it, so a
 * frame is almost always waiting to be queued. A barge-in pauses or clears the output, but the
 * framework acts on that only when the frame in hand has been queued: up to 100 ms later, plus
 * that frame's own 100 ms of audio. With 20 ms pieces both are at most 20 ms (measured with
 * `npm run bench:turns`, bench/RESULTS.md "Turn-taking").
 */
export class ChunkedAudioOutput extends voice.ParticipantAudioOutput {
  /** Bumped by every clearBuffer: the pieces of a frame cut off by it are dropped. */
  private clears = 0;

  override clearBuffer(): void {
    this.clears++;
    super.clearBuffer();
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    const clears = this.clears;
    for (const piece of splitAudioFrame(frame, frame.sampleRate / PIECES_PER_SECOND)) {
      // The framework's own check covers only the frame it is given: a piece after a clear
      // would start a new segment of the interrupted speech.
      if (this.clears !== clears) return;
      await super.captureFrame(piece);
    }
  }
}

/** 20 ms pieces: the Opus frame WebRTC sends, so no piece waits on the encoder. */
const PIECES_PER_SECOND = 50;

/**
 * `frame` in pieces of at most `samplesPerPiece` samples per channel, in order. Each piece owns a
 * copy of its samples: rtc-node hands a frame's whole underlying buffer to the native side,
 * ignoring a view's offset (audio_frame.ts, rtc-node 0.13.35), so a subarray would play the
 * frame's start again.
 */
export function splitAudioFrame(frame: AudioFrame, samplesPerPiece: number): AudioFrame[] {
  const step = Math.max(1, Math.floor(samplesPerPiece));
  if (frame.samplesPerChannel <= step) return [frame];
  const pieces: AudioFrame[] = [];
  const channels = frame.channels;
  for (let offset = 0; offset < frame.samplesPerChannel; offset += step) {
    const samples = Math.min(step, frame.samplesPerChannel - offset);
    pieces.push(
      new AudioFrame(
        frame.data.slice(offset * channels, (offset + samples) * channels),
        frame.sampleRate,
        channels,
        samples,
      ),
    );
  }
  return pieces;
}
