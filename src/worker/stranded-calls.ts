import { setTimeout as sleep } from 'node:timers/promises';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { isAgent, isCaller, snapshotOf, type ParticipantSnapshot } from '../caller/index.js';

/**
 * Calls that arrived while no worker was connected. livekit-server offers a room's job to the
 * workers registered at that moment and does not offer it again: a caller whose INVITE lands
 * while the workers reconnect (livekit-server restarted, a deploy that replaced every worker) or
 * before the first worker registered rings with nobody coming, until the trunk's ringing timeout
 * (3 minutes by default). So a worker that (re)registers looks for such rooms: a dispatch for its
 * agent that has no job, a caller waiting, no agent of its name in the room, and dispatches the
 * room's agent again, with the same metadata (the line's call options).
 *
 * Workers register together (every one of them reconnects when livekit-server restarts), so two
 * can find the same room stranded and both dispatch: two agents would answer one caller. Each
 * looks again once its dispatch is made: of the dispatches the workers made since they looked,
 * the earliest stays and the others are deleted by the workers that made them (livekit-server
 * then ends their jobs). A worker that looks after another's dispatch exists finds it young and
 * leaves the room alone.
 */
export interface StrandedCallPort {
  /** Rooms with their creation time. Unit: ms since the epoch. */
  listRooms(): Promise<{ name: string; createdAtMs: number }[]>;
  /** The room's dispatches for `agentName`, with how many jobs each has had. */
  dispatches(room: string, agentName: string): Promise<StrandedDispatch[]>;
  participants(room: string): Promise<ParticipantSnapshot[]>;
  /** Creates a dispatch; resolves to its id. */
  dispatch(room: string, agentName: string, metadata: string): Promise<string>;
  /** Deletes a dispatch; livekit-server ends the jobs it had. */
  deleteDispatch(room: string, id: string): Promise<void>;
}

export interface StrandedDispatch {
  id: string;
  /** Unit: ms since the epoch. */
  createdAtMs: number;
  metadata: string;
  jobs: number;
}

/**
 * A job offer in flight is settled well within this: a room younger may still get its job.
 * Unit: ms.
 */
export const STRANDED_MIN_AGE_MS = 5_000;

/**
 * How long a worker waits after its own dispatch before it looks for another worker's: two
 * workers' dispatches of one room are made within the few requests between looking and
 * dispatching. livekit-server's job offer waits 200 ms for a better worker, so a duplicate is
 * deleted while its job is still offered; livekit-server ends that job once it is given
 * (livekit-server v1.13.5, Room.DeleteAgentDispatch). Unit: ms.
 */
export const DUPLICATE_SETTLE_MS = 150;

/**
 * Dispatches the agent again to every stranded call; returns their rooms. A room that cannot be
 * looked at is reported to `onRoomError` and skipped, so one room does not hide the others: in a
 * multi-node deployment a room whose node died stays listed, and every question about it fails
 * after livekit-server's 3 s RPC timeout ("no response from servers").
 */
export async function redispatchStrandedCalls(opts: {
  port: StrandedCallPort;
  agentName: string;
  nowMs: number;
  minAgeMs?: number;
  /** Injected so tests control time. */
  wait?: (ms: number) => Promise<void>;
  onRoomError?: (room: string, err: unknown) => void;
}): Promise<string[]> {
  const sweep: Sweep = {
    port: opts.port,
    agentName: opts.agentName,
    nowMs: opts.nowMs,
    minAgeMs: opts.minAgeMs ?? STRANDED_MIN_AGE_MS,
    wait: opts.wait ?? ((ms: number) => sleep(ms)),
  };
  const redispatched: string[] = [];
  for (const room of await sweep.port.listRooms()) {
    if (sweep.nowMs - room.createdAtMs < sweep.minAgeMs) continue;
    try {
      if (await redispatchIfStranded(sweep, room.name)) redispatched.push(room.name);
    } catch (err) {
      opts.onRoomError?.(room.name, err);
    }
  }
  return redispatched;
}

/** One sweep's settings, the same for each room it looks at. */
interface Sweep {
  port: StrandedCallPort;
  agentName: string;
  nowMs: number;
  minAgeMs: number;
  wait: (ms: number) => Promise<void>;
}

async function redispatchIfStranded(sweep: Sweep, room: string): Promise<boolean> {
  const { port, agentName, nowMs, minAgeMs, wait } = sweep;
  const dispatches = await port.dispatches(room, agentName);
  const stranded = dispatches.find((d) => d.jobs === 0);
  if (stranded === undefined || dispatches.some((d) => d.jobs > 0)) return false;
  // A young dispatch may still get its job: another worker's, made a moment ago.
  if (dispatches.some((d) => nowMs - d.createdAtMs < minAgeMs)) return false;
  const participants = await port.participants(room);
  if (!participants.some(isCaller)) return false;
  if (participants.some((p) => isAgent(p, agentName))) return false;
  const seen = new Set(dispatches.map((d) => d.id));
  const own = await port.dispatch(room, agentName, stranded.metadata);
  await wait(DUPLICATE_SETTLE_MS);
  const kept = earliest((await port.dispatches(room, agentName)).filter((d) => !seen.has(d.id)));
  if (kept === undefined || kept.id === own) return true;
  await port.deleteDispatch(room, own);
  return false;
}

/** The first made (ties: the smaller id), the same for every worker that lists them. */
function earliest(dispatches: StrandedDispatch[]): StrandedDispatch | undefined {
  return dispatches.reduce<StrandedDispatch | undefined>(
    (first, d) =>
      first === undefined ||
      d.createdAtMs < first.createdAtMs ||
      (d.createdAtMs === first.createdAtMs && d.id < first.id)
        ? d
        : first,
    undefined,
  );
}

/** The port on a LiveKit server (or Cloud project), with the worker's own key. */
export function livekitStrandedCallPort(livekit: {
  url: string;
  apiKey: string;
  apiSecret: string;
}): StrandedCallPort {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const dispatches = new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    listRooms: async () =>
      (await rooms.listRooms()).map((r) => ({
        name: r.name,
        createdAtMs: Number(r.creationTimeMs) || Number(r.creationTime) * 1000,
      })),
    dispatches: async (room, agentName) =>
      (await dispatches.listDispatch(room))
        .filter((d) => d.agentName === agentName)
        .map((d) => ({
          id: d.id,
          // livekit-server stamps a dispatch in ns (time.Now().UnixNano()).
          createdAtMs: Number((d.state?.createdAt ?? 0n) / 1_000_000n),
          metadata: d.metadata,
          jobs: d.state?.jobs.length ?? 0,
        })),
    participants: async (room) =>
      (await rooms.listParticipants(room))
        .map(snapshotOf)
        .filter((s): s is ParticipantSnapshot => s !== undefined),
    dispatch: async (room, agentName, metadata) =>
      (await dispatches.createDispatch(room, agentName, { metadata })).id,
    deleteDispatch: async (room, id) => {
      await dispatches.deleteDispatch(id, room);
    },
  };
}

/** After a registration, how long and how often the worker looks. Unit: ms. */
export const STRANDED_SWEEP_FOR_MS = 30_000;
export const STRANDED_SWEEP_EVERY_MS = 2_500;

/**
 * The sweeps after each registration: at once, then every STRANDED_SWEEP_EVERY_MS for
 * STRANDED_SWEEP_FOR_MS (a call that arrived just before the registration is too young at
 * first). One sweep at a time; `stop` ends them and waits for the one running.
 */
export class StrandedCallSweeps {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private until = 0;
  private stopped = false;

  constructor(
    private readonly opts: {
      port: StrandedCallPort;
      agentName: string;
      onRedispatched: (rooms: string[]) => void;
      /** A sweep failed (`room` undefined: the rooms could not be listed) or one room did. */
      onError: (err: unknown, room?: string) => void;
      now?: () => number;
    },
  ) {}

  /** A registration happened: sweep now and for the next STRANDED_SWEEP_FOR_MS. */
  restart(): void {
    if (this.stopped) return;
    const now = (this.opts.now ?? Date.now)();
    this.until = now + STRANDED_SWEEP_FOR_MS;
    clearTimeout(this.timer);
    this.sweep();
  }

  private sweep(): void {
    this.timer = undefined;
    this.running = this.running
      .then(async () => {
        if (this.stopped) return;
        const rooms = await redispatchStrandedCalls({
          port: this.opts.port,
          agentName: this.opts.agentName,
          nowMs: (this.opts.now ?? Date.now)(),
          onRoomError: (room, err) => this.opts.onError(err, room),
        });
        if (rooms.length > 0) this.opts.onRedispatched(rooms);
      })
      .catch((err: unknown) => this.opts.onError(err))
      .finally(() => {
        if (this.stopped || this.timer !== undefined) return;
        if ((this.opts.now ?? Date.now)() < this.until)
          this.timer = setTimeout(() => this.sweep(), STRANDED_SWEEP_EVERY_MS);
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
