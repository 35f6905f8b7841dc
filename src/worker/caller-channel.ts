import { ParticipantKind } from '@livekit/rtc-node';
import { RoomServiceClient, type ParticipantInfo } from 'livekit-server-sdk';
import { describeCaller, type Channel, type ParticipantSnapshot } from '../caller/index.js';

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
 * livekit/protocol's ParticipantInfo.Kind and rtc-node's ParticipantKind number the same kinds
 * differently from CONNECTOR on (7 and 8 in the protocol, 5 and 6 in rtc-node).
 */
const KIND_BY_PROTOCOL_KIND: Readonly<Record<number, ParticipantKind>> = {
  0: ParticipantKind.STANDARD,
  1: ParticipantKind.INGRESS,
  2: ParticipantKind.EGRESS,
  3: ParticipantKind.SIP,
  4: ParticipantKind.AGENT,
  7: ParticipantKind.CONNECTOR,
  8: ParticipantKind.BRIDGE,
};

/** A participant as the server lists it, in the caller model's terms; undefined for an unknown kind. */
export function snapshotOf(
  p: Pick<ParticipantInfo, 'identity' | 'name' | 'kind' | 'attributes'>,
): ParticipantSnapshot | undefined {
  const kind = KIND_BY_PROTOCOL_KIND[p.kind as number];
  if (kind === undefined) return undefined;
  return {
    identity: p.identity,
    kind,
    attributes: p.attributes,
    ...(p.name === '' ? {} : { name: p.name }),
  };
}

/** Participants that call: browsers and phone legs (not agents, recorders or ingress). */
const CALLER_KINDS: ReadonlySet<ParticipantKind> = new Set([
  ParticipantKind.STANDARD,
  ParticipantKind.SIP,
]);

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
    const caller = (await opts.participants.list(opts.room)).find((p) => CALLER_KINDS.has(p.kind));
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
