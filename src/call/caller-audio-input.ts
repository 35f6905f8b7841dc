import { TransformStream, type ReadableStream } from 'node:stream/web';
import { log, voice } from '@livekit/agents';
import {
  AudioStream,
  RemoteAudioTrack,
  RoomEvent,
  TrackSource,
  type AudioFrame,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
} from '@livekit/rtc-node';

/**
 * The caller's audio reaches the session in 32 ms frames: one Silero window (512 samples at
 * 16 kHz), so each frame yields exactly one detector decision and none waits for a fourth piece.
 *
 * Why not the framework's 10 ms: every frame is an FFI event decoded on the job's JavaScript
 * thread and then passes some ten web-stream stages (each a promise, each seen by the
 * AsyncLocalStorage hooks) on its way to the VAD and the transcriber; that per-frame work was
 * most of the thread's time in a profile of a call. In the density benchmark, 32 ms frames took
 * a call's worker CPU from 32 % to 25 % of a core (bench/RESULTS.md).
 */
export const CALLER_FRAME_MS = 32;

/**
 * The detector's own rate (Silero runs at 16 kHz), so its frames need no resampling. At any other
 * rate (the room input's 24 kHz, which the realtime transcriber takes as it is) the detector's
 * resampler holds one sample back, each 512-sample window waits for the next frame, and every
 * speech start and end is heard 32 ms late: later barge-ins and later answers. The transcriber
 * resamples to its 24 kHz itself; what 16 kHz drops (above 8 kHz) a phone line never carries,
 * and speech recognition does not need.
 */
export const CALLER_AUDIO_SAMPLE_RATE = 16_000;

export interface CallerAudioInputOptions {
  /** The caller's participant: the only one whose microphone this input hears. */
  participantIdentity: string;
  sampleRate: number;
  numChannels: number;
  frameSizeMs?: number;
}

interface OpenTrack {
  track: RemoteTrack;
  id: string;
  stream: ReadableStream<AudioFrame>;
  pipe: Promise<void>;
}

/**
 * The session's audio input for one call: the caller's microphone track, as the framework's room
 * input takes it (its latest microphone track, followed across unpublish and republish, muted by
 * `session.input.setAudioEnabled`), read in {@link CALLER_FRAME_MS} frames. Given to the session
 * before it starts, so the room input does not open its own.
 */
export class CallerAudioInput extends voice.AudioInput {
  readonly #room: Room;
  readonly #opts: Required<CallerAudioInputOptions>;
  #attached = true;
  #closed = false;
  #current: OpenTrack | undefined;
  /** Which track should be open; the switches below run one after another towards it. */
  #wanted: RemoteTrackPublication | undefined;
  #switching: Promise<void> = Promise.resolve();
  readonly #logger = log();

  constructor(room: Room, opts: CallerAudioInputOptions) {
    super();
    this.#room = room;
    this.#opts = { frameSizeMs: CALLER_FRAME_MS, ...opts };
    room.on(RoomEvent.TrackSubscribed, this.#onSubscribed);
    room.on(RoomEvent.TrackUnsubscribed, this.#onUnsubscribed);
    room.on(RoomEvent.TrackUnpublished, this.#onGone);
    // The caller's track may have been subscribed before this input existed.
    this.#pickTrack(room.remoteParticipants.get(opts.participantIdentity));
  }

  /** The framework's mute (hold, transfer): frames are dropped, the track stays open. */
  override setAttached(attached: boolean): void {
    this.#attached = attached;
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#room.off(RoomEvent.TrackSubscribed, this.#onSubscribed);
    this.#room.off(RoomEvent.TrackUnsubscribed, this.#onUnsubscribed);
    this.#room.off(RoomEvent.TrackUnpublished, this.#onGone);
    this.#want(undefined);
    await this.#switching;
    await super.close();
  }

  /** As the framework's room input: the caller's latest microphone track is the one heard. */
  readonly #onSubscribed = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (!this.#isCallerMicrophone(publication, participant)) return;
    if (this.#wanted?.sid === publication.sid && this.#current?.track === track) return;
    this.#want(publication);
  };

  readonly #onUnsubscribed = (
    _track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => this.#onGone(publication, participant);

  readonly #onGone = (
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (participant.identity !== this.#opts.participantIdentity) return;
    if (this.#wanted?.sid !== publication.sid) return;
    this.#want(undefined);
    // Another microphone track of the caller's, if there is one (a browser that republished).
    this.#pickTrack(participant, publication.sid);
  };

  #isCallerMicrophone(publication: RemoteTrackPublication, participant: RemoteParticipant) {
    return (
      participant.identity === this.#opts.participantIdentity &&
      publication.source === TrackSource.SOURCE_MICROPHONE &&
      publication.track !== undefined
    );
  }

  #pickTrack(participant: RemoteParticipant | undefined, exceptSid?: string): void {
    if (participant === undefined || this.#closed) return;
    for (const publication of participant.trackPublications.values()) {
      if (publication.sid === exceptSid || !this.#isCallerMicrophone(publication, participant))
        continue;
      this.#want(publication);
      return;
    }
  }

  #want(publication: RemoteTrackPublication | undefined): void {
    this.#wanted = this.#closed ? undefined : publication;
    // Never rejects: a failed switch is logged and the next one still runs.
    this.#switching = this.#switching
      .then(() => this.#settle())
      .catch((err: unknown) => {
        this.#logger.error({ err }, 'could not switch the caller audio track');
      });
  }

  /** Closes the open track unless it is the wanted one, then opens the wanted one. */
  async #settle(): Promise<void> {
    const wanted = this.#wanted;
    if (this.#current !== undefined && this.#current.track !== wanted?.track) {
      const open = this.#current;
      this.#current = undefined;
      await this.multiStream.removeInputStream(open.id).catch((err: unknown) => {
        this.#logger.warn({ err }, 'could not detach the caller audio stream');
      });
      await Promise.allSettled([open.stream.cancel(), open.pipe]);
    }
    const track = wanted?.track;
    if (this.#current !== undefined || !(track instanceof RemoteAudioTrack)) return;
    const audio = new AudioStream(track, {
      sampleRate: this.#opts.sampleRate,
      numChannels: this.#opts.numChannels,
      frameSizeMs: this.#opts.frameSizeMs,
    });
    const gate = new TransformStream<AudioFrame, AudioFrame>({
      transform: (frame, controller) => {
        if (this.#attached) controller.enqueue(frame);
      },
    });
    const pipe = audio.pipeTo(gate.writable).catch((err: unknown) => {
      if (this.#current?.stream === gate.readable)
        this.#logger.error({ err }, 'the caller audio stream failed');
    });
    this.#current = {
      track,
      id: this.multiStream.addInputStream(gate.readable),
      stream: gate.readable,
      pipe,
    };
  }
}
