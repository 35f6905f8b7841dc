import { RoomServiceClient } from 'livekit-server-sdk';
import {
  describeCaller,
  isCaller,
  snapshotOf,
  type Channel,
  type ParticipantSnapshot,
} from '../caller/index.js';

/**
 * Which channel a call offered to the worker comes from, before the worker takes it: the caller
 * in the job's room, as the server lists it, through the same caller model the call itself uses
 * (src/caller). A browser caller creates the room by joining it, and livekit-sip joins the phone
 * caller as it creates the room, so the caller is normally there when the job is offered; the
 * lookup waits a moment for it otherwise.
 */
export interface RoomParticipants {
  /** The participants of `room` as the server lists them; [] when there are none (or no room). */
  list(room: string): Promise<ParticipantSnapshot[]>;
}

/**
 * The channel of the caller in `room`, polling until one is there or `timeoutMs` passed;
 * undefined if none came (or the room is gone).
 */
export async function callerChannel(opts: {
  room: string;
  participants: RoomParticipants;
  timeoutMs: number;
  pollMs?: number;
  /** Injected so tests control time. */
  wait?: (ms: number) => Promise<void>;
  now?: () => number;
}): Promise<Channel | undefined> {
  const wait = opts.wait ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutMs;
  for (;;) {
    const caller = (await opts.participants.list(opts.room)).find(isCaller);
    if (caller !== undefined) return describeCaller(caller).channel;
    if (now() >= deadline) return undefined;
    await wait(opts.pollMs ?? 100);
  }
}

export function livekitRoomParticipants(livekit: {
  url: string;
  apiKey: string;
  apiSecret: string;
}): RoomParticipants {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    list: async (room) => {
      try {
        return (await rooms.listParticipants(room))
          .map(snapshotOf)
          .filter((s): s is ParticipantSnapshot => s !== undefined);
      } catch (err) {
        // The server answers 404 for a room that is gone.
        if ((err as { status?: number }).status === 404) return [];
        throw err;
      }
    },
  };
}
