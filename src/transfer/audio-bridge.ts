import {
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  TrackPublishOptions,
  TrackSource,
  type RemoteTrack,
  type Room,
} from '@livekit/rtc-node';
import { subscribedAudio } from '../livekit/subscribed-audio.js';

/**
 * Connects a caller and a human who are in two different rooms, on a server without
 * MoveParticipant (open-source livekit-server): each one's audio is republished in the other's
 * room by this process. The AI agent is gone from the conversation; only this relay stays, until
 * `close`.
 */
const SAMPLE_RATE = 48_000;
/** A party whose audio track is not there by then has gone: the bridge fails instead of waiting. */
const TRACK_WAIT_MS = 5_000;

export class AudioBridge {
  private readonly abort = new AbortController();
  private readonly pumps: Promise<void>[] = [];
  private readonly sources: AudioSource[] = [];
  /** Unpublished on close: a failed bridge must not leave a silent track in either room. */
  private readonly published: { room: Room; sid: string }[] = [];

  /** Starts relaying `from`'s microphone in `fromRoom` into `toRoom`, as track `name`. */
  async relay(fromRoom: Room, from: string, toRoom: Room, name: string): Promise<void> {
    const source = new AudioSource(SAMPLE_RATE, 1);
    this.sources.push(source);
    const track = LocalAudioTrack.createAudioTrack(name, source);
    const publication = await toRoom.localParticipant?.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    if (publication?.sid !== undefined) this.published.push({ room: toRoom, sid: publication.sid });
    const remote = await subscribedAudio(
      fromRoom,
      from,
      AbortSignal.any([this.abort.signal, AbortSignal.timeout(TRACK_WAIT_MS)]),
    );
    this.pumps.push(this.pump(remote, source));
  }

  private async pump(track: RemoteTrack, source: AudioSource): Promise<void> {
    const reader = new AudioStream(track, { sampleRate: SAMPLE_RATE, numChannels: 1 }).getReader();
    const onAbort = () => void reader.cancel().catch(() => undefined);
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.abort.signal.aborted) break;
        await source.captureFrame(value);
      }
    } catch {
      // The track or the room went away: the bridge is over either way.
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.pumps);
    await Promise.allSettled(
      this.published
        .filter(({ room }) => room.isConnected)
        .map(({ room, sid }) => room.localParticipant?.unpublishTrack(sid) ?? Promise.resolve()),
    );
    await Promise.allSettled(this.sources.map((s) => s.close()));
  }
}

/** The participant's audio track once this process is subscribed to it. */
