/**
 * The session's input of the caller's audio, on the real livekit-server: two rtc-node
 * participants in one room, a "caller" publishing a microphone track and an "agent" reading it
 * through CallerAudioInput. Asserts the frames that come out: their size, that only the caller's
 * microphone is heard, the mute the framework uses for hold, and a republished track.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { initializeLogger } from '@livekit/agents';
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
  type LocalTrackPublication,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_FRAME_MS, CallerAudioInput } from '../../src/call/caller-audio-input.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { layout } from '../support/stack-env.js';

const URL = `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`;
const RATE = 24_000;

beforeAll(() => initializeLogger({ pretty: false, level: 'warn' }));

const rooms: Room[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const room of rooms.splice(0)) await room.disconnect();
});

async function join(roomName: string, identity: string): Promise<Room> {
  const token = new AccessToken(LOCAL_API_KEY, LOCAL_API_SECRET, { identity });
  token.addGrant({ roomJoin: true, room: roomName });
  const room = new Room();
  rooms.push(room);
  await room.connect(URL, await token.toJwt(), { autoSubscribe: true, dynacast: false });
  return room;
}

/** Publishes a track that plays a tone at `amplitude` until the test ends or it is stopped. */
async function publishTone(
  room: Room,
  amplitude: number,
  source = TrackSource.SOURCE_MICROPHONE,
): Promise<{ publication: LocalTrackPublication; stop: () => Promise<void> }> {
  const audio = new AudioSource(48_000, 1);
  const track = LocalAudioTrack.createAudioTrack('tone', audio);
  const publication = await room.localParticipant!.publishTrack(
    track,
    new TrackPublishOptions({ source }),
  );
  const state = { playing: true };
  const loop = (async () => {
    for (let n = 0; state.playing; n++) {
      const data = new Int16Array(480);
      for (let i = 0; i < data.length; i++)
        data[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (n * 480 + i)) / 48_000));
      await audio.captureFrame(new AudioFrame(data, 48_000, 1, 480));
    }
  })();
  const stop = async () => {
    state.playing = false;
    await loop;
    await room.localParticipant!.unpublishTrack(publication.sid!);
    await audio.close();
  };
  stops.push(async () => {
    if (state.playing) await stop();
  });
  return { publication, stop };
}

/** Reads the input's frames for `ms`: their sizes and peak amplitude. */
async function readFor(
  reader: ReadableStreamDefaultReader<AudioFrame>,
  ms: number,
): Promise<{ frames: number; sizes: Set<number>; peak: number }> {
  const until = Date.now() + ms;
  const out = { frames: 0, sizes: new Set<number>(), peak: 0 };
  while (Date.now() < until) {
    const next = await Promise.race([reader.read(), sleep(until - Date.now()).then(() => null)]);
    if (next === null || next.done) break;
    out.frames++;
    out.sizes.add(next.value.samplesPerChannel);
    for (const s of next.value.data) out.peak = Math.max(out.peak, Math.abs(s));
  }
  return out;
}

describe('CallerAudioInput', () => {
  it('hears only the caller microphone, in 32 ms frames, muted while detached, across a republish', async () => {
    const roomName = `caller-input-${Date.now()}`;
    const agent = await join(roomName, 'agent');
    const caller = await join(roomName, 'caller');
    const other = await join(roomName, 'someone-else');
    // Another participant's microphone, louder than the caller's: never heard.
    await publishTone(other, 20_000);
    const first = await publishTone(caller, 4_000);

    const input = new CallerAudioInput(agent, {
      participantIdentity: 'caller',
      sampleRate: RATE,
      numChannels: 1,
    });
    stops.push(() => input.close());
    const reader = input.stream.getReader();

    const heard = await readFor(reader, 1500);
    expect(heard.frames).toBeGreaterThan(20);
    expect([...heard.sizes]).toEqual([(RATE * CALLER_FRAME_MS) / 1000]);
    // The caller's tone (4000) through Opus, not the other participant's (20000).
    expect(heard.peak).toBeGreaterThan(2_000);
    expect(heard.peak).toBeLessThan(8_000);

    // The framework's mute (hold): nothing reaches the session.
    input.setAttached(false);
    await readFor(reader, 200); // frames already in the stream
    expect((await readFor(reader, 800)).frames).toBe(0);
    input.setAttached(true);
    expect((await readFor(reader, 800)).frames).toBeGreaterThan(10);

    // A browser that republishes its microphone: the new track is heard.
    await first.stop();
    await publishTone(caller, 12_000);
    const after = await readFor(reader, 3000);
    expect(after.peak).toBeGreaterThan(8_000);
    expect(after.peak).toBeLessThan(16_000);

    await input.close();
    const ended = await Promise.race([reader.read(), sleep(3000).then(() => null)]);
    expect(ended?.done).toBe(true);
  }, 60_000);

  it('picks up a microphone subscribed before it was made', async () => {
    const roomName = `caller-input-early-${Date.now()}`;
    const agent = await join(roomName, 'agent');
    const caller = await join(roomName, 'caller');
    await publishTone(caller, 4_000);
    // The agent's subscription completes before the input exists.
    for (let i = 0; i < 50; i++) {
      const p = agent.remoteParticipants.get('caller');
      if ([...(p?.trackPublications.values() ?? [])].some((t) => t.track !== undefined)) break;
      await sleep(100);
    }
    const input = new CallerAudioInput(agent, {
      participantIdentity: 'caller',
      sampleRate: RATE,
      numChannels: 1,
    });
    stops.push(() => input.close());
    const heard = await readFor(input.stream.getReader(), 1000);
    expect(heard.frames).toBeGreaterThan(15);
  }, 30_000);
});
