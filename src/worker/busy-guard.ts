import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { isAgent, snapshotOf } from '../caller/index.js';

/**
 * The caller's busy signal when no worker takes a call.
 *
 * livekit-sip keeps an inbound call ringing until a participant publishes a track in its room (the
 * agent's audio), for up to the trunk's ringing timeout (3 minutes by default), and ends an
 * unanswered call whose room is deleted with `486 Busy Here`. livekit-server offers a job to one
 * worker at a time and drops it when every worker declines. So a worker that declines a call
 * waits a short grace period for another worker to take it (a job in the room's agent dispatch,
 * or an agent participant in the room), and otherwise deletes the room: the caller gets 486 Busy
 * Here within seconds, not minutes of ringing or an answered call with nobody on it.
 */
export interface CallRoomProbe {
  /** True when another worker's job for `agentName` runs in `room`; undefined when the room is gone. */
  agentTookRoom(room: string, agentName: string): Promise<boolean | undefined>;
  /** Deletes the room; livekit-sip then rejects the still-ringing call with 486 Busy Here. */
  deleteRoom(room: string): Promise<void>;
}

export type BusyGuardOutcome = 'taken_elsewhere' | 'room_gone' | 'busy';

export async function answerBusyUnlessTaken(opts: {
  room: string;
  agentName: string;
  probe: CallRoomProbe;
  graceMs: number;
  pollMs?: number;
  /** Injected so tests control time. */
  wait?: (ms: number) => Promise<void>;
  now?: () => number;
}): Promise<BusyGuardOutcome> {
  const wait = opts.wait ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 250;
  const deadline = now() + opts.graceMs;
  for (;;) {
    const taken = await opts.probe.agentTookRoom(opts.room, opts.agentName);
    if (taken === undefined) return 'room_gone';
    if (taken) return 'taken_elsewhere';
    if (now() >= deadline) break;
    await wait(pollMs);
  }
  await opts.probe.deleteRoom(opts.room);
  return 'busy';
}

/** The probe against a LiveKit server (or Cloud project), with the worker's own key. */
export function livekitCallRoomProbe(livekit: {
  url: string;
  apiKey: string;
  apiSecret: string;
}): CallRoomProbe {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const dispatches = new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    agentTookRoom: async (room, agentName) => {
      if ((await rooms.listRooms([room])).length === 0) return undefined;
      const jobs = (await dispatches.listDispatch(room))
        .filter((d) => d.agentName === agentName)
        .flatMap((d) => d.state?.jobs ?? []);
      if (jobs.length > 0) return true;
      const participants = await rooms.listParticipants(room);
      return participants.some((p) => {
        const s = snapshotOf(p);
        return s !== undefined && isAgent(s, agentName);
      });
    },
    deleteRoom: async (room) => {
      await rooms.deleteRoom(room);
    },
  };
}
