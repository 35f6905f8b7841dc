import {
  AudioSource,
  LocalAudioTrack,
  TrackPublishOptions,
  TrackSource,
  type Room,
} from '@livekit/rtc-node';
import type { PrerenderedSpeech } from './prerendered-speech.js';

/**
 * Plays prerendered speech on a track of its own, outside the agent session. For the moment the
 * session cannot speak: a model server failed (an unrecoverable STT error closes the session at
 * once, and a failed TTS cannot say anything). The caller hears an apology instead of dead air.
 */
export async function playLastWords(room: Room, speech: PrerenderedSpeech): Promise<void> {
  const participant = room.localParticipant;
  const first = speech.audioFrames[0];
  if (participant === undefined || first === undefined) return;
  const source = new AudioSource(first.sampleRate, first.channels);
  const track = LocalAudioTrack.createAudioTrack('last-words', source);
  const publication = await participant.publishTrack(
    track,
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );
  try {
    for (const frame of speech.audioFrames) await source.captureFrame(frame);
    await source.waitForPlayout();
  } finally {
    if (publication.sid !== undefined) await participant.unpublishTrack(publication.sid);
    await source.close();
  }
}

export const TECHNICAL_TROUBLE_APOLOGY =
  "I'm sorry, I'm having technical trouble and can't continue this call. Please call again later. Goodbye.";
