import { CheckpointStore, recordOfDeadJob, type RecordSink } from '../call-records/index.js';
import { hangUp, livekitHangUpPort, type HangUpPort } from '../call/hang-up.js';
import { processAlive } from './process-tree.js';

/**
 * Calls whose job process died. A job process killed mid-call (out of memory, a second signal, a
 * crash) writes no record and hangs nobody up: livekit-sip keeps the caller's leg open in a room
 * with no agent. The worker, which outlives its job processes, looks for checkpoints
 * (src/call-records/checkpoint-store.ts) of processes that are gone, hangs their callers up (the
 * room deleted: livekit-sip sends BYE) and writes the call's record from the checkpoint.
 */
export interface OrphanedCallPorts {
  store: CheckpointStore;
  records: RecordSink;
  hangUp: HangUpPort;
  /** Whether the job process still runs (pid plus its start time). */
  isAlive: (pid: number, startTicks?: string) => boolean;
  now: () => Date;
}

export interface OrphanedCall {
  callId: string;
  /** How the caller's line was ended. */
  hangUp: 'room_deleted' | 'participant_removed' | 'failed' | 'not_needed';
  outcome: string;
}

/** One pass: every checkpoint of a dead process is hung up, recorded and removed. */
export async function recoverOrphanedCalls(
  ports: OrphanedCallPorts,
  onCorrupt: (file: string, reason: string) => void = () => undefined,
): Promise<OrphanedCall[]> {
  const recovered: OrphanedCall[] = [];
  for (const file of await ports.store.list()) {
    const seen = await ports.store.read(file);
    // Unreadable files are claimed too (and reported), not read again on every pass.
    if (seen !== undefined && ports.isAlive(seen.pid, seen.pidStartTicks)) continue;
    const claimed = await ports.store.claim(file);
    if (claimed.kind === 'gone') continue;
    if (claimed.kind === 'corrupt') {
      onCorrupt(claimed.file, claimed.reason);
      continue;
    }
    const { checkpoint } = claimed;
    // A call that had ended needs no hang-up; one still in progress has a caller on the line.
    const line = checkpoint.ended
      ? 'not_needed'
      : await hangUp(ports.hangUp, {
          room: checkpoint.room,
          callerIdentity: checkpoint.callerIdentity,
        });
    const record = recordOfDeadJob(checkpoint, ports.now());
    // Written before the checkpoint is removed: a failure leaves it claimed, not lost.
    await ports.records.write(record);
    await claimed.release();
    recovered.push({ callId: record.callId, hangUp: line, outcome: record.outcome });
  }
  return recovered;
}

/** How often the worker looks. A killed job's caller hears BYE within about this. Unit: ms. */
export const ORPHAN_POLL_MS = 1_000;

/**
 * Runs `recoverOrphanedCalls` at start-up (calls of a worker that died before this one started)
 * and every `ORPHAN_POLL_MS`, until `stop`.
 */
export function startOrphanRecovery(opts: {
  recordsDir: string;
  records: RecordSink;
  livekit: { url: string; apiKey: string; apiSecret: string };
  onRecovered: (call: OrphanedCall) => void;
  onError: (err: unknown) => void;
  pollMs?: number;
}): {
  /** Ends the passes; with `finalPass`, after one more (the worker just killed its jobs). */
  stop: (finalPass?: boolean) => Promise<void>;
} {
  const ports: OrphanedCallPorts = {
    store: new CheckpointStore(opts.recordsDir),
    records: opts.records,
    hangUp: livekitHangUpPort(opts.livekit),
    isAlive: processAlive,
    now: () => new Date(),
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const once = () =>
    recoverOrphanedCalls(ports, (file, reason) =>
      opts.onError(new Error(`unreadable call checkpoint ${file}: ${reason}`)),
    )
      .then((calls) => calls.forEach(opts.onRecovered))
      .catch(opts.onError);
  const run = () => {
    pass = once().finally(() => {
      if (!stopped) timer = setTimeout(run, opts.pollMs ?? ORPHAN_POLL_MS);
    });
  };
  run();
  return {
    stop: async (finalPass = false) => {
      stopped = true;
      clearTimeout(timer);
      await pass;
      if (finalPass) await once();
      await opts.records.close();
    },
  };
}
