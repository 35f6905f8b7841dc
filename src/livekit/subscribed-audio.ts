import {
  RemoteAudioTrack,
  RoomEvent,
  TrackKind,
  type RemoteParticipant,
  type RemoteTrack,
  type Room,
} from '@livekit/rtc-node';

/** A participant's subscribed audio track: the one already there, or the next to arrive. */
export function subscribedAudio(
  room: Room,
  identity: string,
  signal: AbortSignal,
): Promise<RemoteTrack> {
  const publications = [
    ...(room.remoteParticipants.get(identity)?.trackPublications.values() ?? []),
  ];
  const existing = publications.find((p) => p.track instanceof RemoteAudioTrack)?.track;
  if (existing instanceof RemoteAudioTrack) return Promise.resolve(existing);
  if (signal.aborted) return Promise.reject(new Error('stopped waiting for the audio track'));
  return new Promise((resolve, reject) => {
    const onTrack = (track: RemoteTrack, _pub: unknown, p: RemoteParticipant) => {
      if (p.identity !== identity || track.kind !== TrackKind.KIND_AUDIO) return;
      room.off(RoomEvent.TrackSubscribed, onTrack);
      resolve(track);
    };
    room.on(RoomEvent.TrackSubscribed, onTrack);
    signal.addEventListener(
      'abort',
      () => {
        room.off(RoomEvent.TrackSubscribed, onTrack);
        reject(new Error('stopped waiting for the audio track'));
      },
      { once: true },
    );
  });
}
