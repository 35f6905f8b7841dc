import { randomBytes } from 'node:crypto';
import { AgentDispatchClient, RoomServiceClient, SipClient } from 'livekit-server-sdk';
import { SwitchboardError } from '../errors/index.js';
import type { LiveKitAccess } from '../transfer/livekit-ports.js';
import { CALLEE_IDENTITY } from './callee.js';
import type { OutboundCallRequest, OutboundDialer, PlacedCall } from './dialer.js';
import { OutboundOptionsSchema } from './options.js';
import { outcomeIn } from './outcome-report.js';
import type { OutboundOutcome } from './outcome.js';

/**
 * A room the agent has left stays this long, so its metadata (the dial's outcome) can still be
 * read; and a room nobody ever joins (no worker took the dispatch) goes after the empty timeout.
 * Unit: s (the API's).
 */
const ROOM_DEPARTURE_TIMEOUT_S = 20;
const ROOM_EMPTY_TIMEOUT_S = 60;
/** How often the room is read while the dial is under way, and while the call lasts. Unit: ms. */
const OUTCOME_POLL_MS = 250;
const ENDED_POLL_MS = 1_000;
/** Rooms asked about in one ListRooms request (its names filter), to keep requests small. */
const ROOMS_PER_LOOKUP = 100;
/**
 * With no outcome this long after the ringing timeout, the agent is taken to be gone (no worker,
 * a crashed job): the call is `failed` and the room deleted. Unit: ms.
 */
const REPORT_GRACE_MS = 30_000;

export interface DialerClock {
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const realClock: DialerClock = {
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      // The listener goes with the timer: the dialer sleeps hundreds of times on one signal.
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A room name that says nothing about the number dialled (room names reach logs). */
export function outboundRoomName(): string {
  return `call-out-${randomBytes(6).toString('hex')}`;
}

/**
 * Places calls on a LiveKit server (Cloud or self-hosted): creates the room, dispatches the agent
 * explicitly with the call's options, and reads the dial's outcome from the room's metadata,
 * where the agent reports it (outcome-report.ts). The agent dials (src/outbound/callee.ts).
 */
export function liveKitDialer(
  livekit: LiveKitAccess,
  clock: DialerClock = realClock,
): OutboundDialer {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const dispatches = new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const sip = new SipClient(livekit.url, livekit.apiKey, livekit.apiSecret);

  const callOver = async (room: string): Promise<boolean> => {
    if ((await rooms.listRooms([room])).length === 0) return true;
    const participants = await rooms.listParticipants(room);
    return !participants.some((p) => p.identity === CALLEE_IDENTITY);
  };

  return {
    async place(request: OutboundCallRequest, signal?: AbortSignal): Promise<PlacedCall> {
      const callOptions = { ...request.callOptions };
      const outbound = OutboundOptionsSchema.safeParse({
        ...(typeof callOptions.outbound === 'object' ? callOptions.outbound : {}),
        to: request.to,
        trunk: request.trunk,
        ...(request.from === undefined ? {} : { from: request.from }),
      });
      if (!outbound.success)
        throw new SwitchboardError(
          'outbound_request_invalid',
          `cannot place the call: ${outbound.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}`,
        );
      const trunks = (await sip.listSipOutboundTrunk()).filter((t) => t.name === request.trunk);
      if (trunks.length !== 1)
        throw new SwitchboardError(
          'outbound_trunk_missing',
          trunks.length === 0
            ? `no outbound trunk named "${request.trunk}" on the server: provision it (npm run sip -- apply) or pass another --trunk`
            : `${trunks.length} outbound trunks are named "${request.trunk}": give them distinct names (npm run sip -- apply)`,
        );
      const room = outboundRoomName();
      await rooms.createRoom({
        name: room,
        emptyTimeout: ROOM_EMPTY_TIMEOUT_S,
        departureTimeout: ROOM_DEPARTURE_TIMEOUT_S,
      });
      try {
        await dispatches.createDispatch(room, request.agentName, {
          metadata: JSON.stringify({ ...callOptions, outbound: outbound.data }),
        });
      } catch (err) {
        await rooms.deleteRoom(room).catch(() => undefined);
        throw new SwitchboardError(
          'outbound_agent_missing',
          `could not dispatch agent "${request.agentName}": ${(err as Error).message}`,
          { retryable: true, cause: err },
        );
      }

      const hangUp = async () => {
        await rooms.deleteRoom(room).catch(() => undefined);
      };
      const stop = new AbortController();
      signal?.addEventListener('abort', () => stop.abort(), { once: true });

      const outcome = (async (): Promise<OutboundOutcome> => {
        const limitMs = outbound.data.ringingTimeoutMs + REPORT_GRACE_MS;
        const deadline = Date.now() + limitMs;
        while (!stop.signal.aborted) {
          // A failed read (the server restarting) is tried again until the deadline.
          const info = await rooms.listRooms([room]).then(
            ([r]) => r ?? null,
            () => undefined,
          );
          if (info === null)
            return {
              result: 'failed',
              detail: 'the room ended before the agent reported the dial',
            };
          const reported = info === undefined ? undefined : outcomeIn(info.metadata);
          if (reported !== undefined) {
            // The agent has left a room whose call never started: nothing more will happen there.
            if (reported.result !== 'answered' && reported.result !== 'voicemail') await hangUp();
            return reported;
          }
          if (Date.now() > deadline) {
            await hangUp();
            return {
              result: 'failed',
              detail: `no agent reported the dial within ${Math.round(limitMs / 1000)} s: is a worker for "${request.agentName}" running?`,
            };
          }
          await clock.sleep(OUTCOME_POLL_MS, stop.signal);
        }
        await hangUp();
        return { result: 'failed', detail: 'the call was cancelled before the dial was decided' };
      })();

      const ended = (async () => {
        await outcome.catch(() => undefined);
        // Over when the room is gone, or the callee has left it: the agent's job then ends on its
        // own, and the room would otherwise wait out its departure timeout.
        while (!stop.signal.aborted && !(await callOver(room).catch(() => false)))
          await clock.sleep(ENDED_POLL_MS, stop.signal);
        await hangUp();
      })();
      // The signal's hang-up; the loops above stop on it.
      stop.signal.addEventListener('abort', () => void hangUp(), { once: true });

      return { room, outcome, ended, hangUp };
    },

    async callsUp(candidates: readonly string[]): Promise<string[]> {
      const up: string[] = [];
      for (let i = 0; i < candidates.length; i += ROOMS_PER_LOOKUP) {
        const batch = candidates.slice(i, i + ROOMS_PER_LOOKUP);
        const there = new Set((await rooms.listRooms(batch)).map((r) => r.name));
        up.push(...batch.filter((r) => there.has(r)));
      }
      return up;
    },

    async untilOver(room: string, signal?: AbortSignal): Promise<void> {
      // A failed read (the server restarting) is read again: a seat is held until it is known.
      while (signal?.aborted !== true && !(await callOver(room).catch(() => false)))
        await clock.sleep(ENDED_POLL_MS, signal);
    },
  };
}
