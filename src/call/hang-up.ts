import { RoomServiceClient } from 'livekit-server-sdk';

/**
 * Ending a call for sure. The framework's `ctx.deleteRoom()` only logs a failure, which can leave
 * a SIP leg open with nobody on it (the caller hears silence until they give up). This retries
 * the room's deletion, then falls back to removing the caller's participant, which makes
 * livekit-sip send BYE, and says whether the call is gone.
 */
export interface HangUpPort {
  deleteRoom(room: string): Promise<void>;
  removeParticipant(room: string, identity: string): Promise<void>;
}

export type HangUpResult = 'room_deleted' | 'participant_removed' | 'failed';

export interface HangUpOptions {
  room: string;
  /** The caller's participant, removed when the room cannot be deleted. */
  callerIdentity: string | undefined;
  /** Waits before each retry; the first try is at once. Unit: ms. */
  retryDelaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
}

/** 250 ms, then 1 s, then 2 s: a server restarting or a dropped connection gets three seconds. */
export const HANG_UP_RETRY_DELAYS_MS = [250, 1_000, 2_000] as const;

export async function hangUp(port: HangUpPort, opts: HangUpOptions): Promise<HangUpResult> {
  const delays = opts.retryDelaysMs ?? HANG_UP_RETRY_DELAYS_MS;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const attempt = async (work: () => Promise<void>): Promise<boolean> => {
    for (let i = 0; i <= delays.length; i++) {
      if (i > 0) await sleep(delays[i - 1] ?? 0);
      try {
        await work();
        return true;
      } catch (err) {
        // Already gone is what was wanted.
        if (isNotFound(err)) return true;
      }
    }
    return false;
  };
  if (await attempt(() => port.deleteRoom(opts.room))) return 'room_deleted';
  const identity = opts.callerIdentity;
  if (identity !== undefined && (await attempt(() => port.removeParticipant(opts.room, identity))))
    return 'participant_removed';
  return 'failed';
}

/** The server's "no such room / participant" (Twirp `not_found`, HTTP 404). */
function isNotFound(err: unknown): boolean {
  const e = err as { status?: unknown; code?: unknown } | null;
  return e?.status === 404 || e?.code === 'not_found';
}

/** The port on LiveKit's room service. */
export function livekitHangUpPort(livekit: {
  url: string;
  apiKey: string;
  apiSecret: string;
}): HangUpPort {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    deleteRoom: async (room) => {
      await rooms.deleteRoom(room);
    },
    removeParticipant: async (room, identity) => {
      await rooms.removeParticipant(room, identity);
    },
  };
}
