import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CallRecordSchema, type CallRecord } from './schema.js';

/**
 * Calls in progress, on local disk: a job process writes its call's record as it stands at the
 * start and then as the call goes on, and removes it once the final record is written. A job
 * process that dies (killed for memory, a second signal, a crash) cannot write its record; the
 * worker above it finds the checkpoint of a process that is gone and writes the record from it
 * (src/worker/orphaned-calls.ts).
 *
 *   <records dir>/in-progress/<call>.json       one per call in progress (mode 0600)
 *   <records dir>/in-progress/<call>.json.<pid>  claimed by a worker writing its record
 *
 * Each save is write-a-temporary-file-then-rename, so a reader never sees half a checkpoint, and
 * a claim is a rename, so of two workers sharing the directory only one writes the record.
 */
export const CHECKPOINT_DIR_NAME = 'in-progress';

export const CallCheckpointSchema = z.object({
  version: z.literal(1),
  /** The job process that writes it, and its start time (field 22 of /proc/<pid>/stat). */
  pid: z.number().int().positive(),
  pidStartTicks: z.string().optional(),
  /** The call's room and caller, to hang up a call whose job died. */
  room: z.string(),
  callerIdentity: z.string().optional(),
  savedAt: z.iso.datetime(),
  /** Whether the call had ended (the record's outcome is final) when this was saved. */
  ended: z.boolean(),
  record: CallRecordSchema,
});
export type CallCheckpoint = z.infer<typeof CallCheckpointSchema>;

export type ClaimedCheckpoint =
  | { kind: 'checkpoint'; checkpoint: CallCheckpoint; release: () => Promise<void> }
  /** Another worker claimed it first, or the job removed it. */
  | { kind: 'gone' }
  | { kind: 'corrupt'; reason: string; file: string };

const CHECKPOINT_NAME = /^[A-Za-z0-9_-]+\.json$/;

export class CheckpointStore {
  readonly dir: string;

  constructor(recordsDir: string) {
    this.dir = join(recordsDir, CHECKPOINT_DIR_NAME);
  }

  fileOf(callId: string): string {
    return join(this.dir, `${callId.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }

  async save(checkpoint: CallCheckpoint): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const final = this.fileOf(checkpoint.record.callId);
    const temporary = `${final}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(JSON.stringify(checkpoint), 'utf8');
    } finally {
      await file.close();
    }
    // No fsync: a checkpoint matters when the process dies, not the machine, and one per turn
    // with fsync would cost every call disk flushes.
    await rename(temporary, final);
  }

  /** After the final record is written. Already gone is fine. */
  async remove(callId: string): Promise<void> {
    await removeIfPresent(this.fileOf(callId));
  }

  /** Checkpoint files of calls in progress (not claimed, not temporary). */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => CHECKPOINT_NAME.test(n)).map((n) => join(this.dir, n));
  }

  async read(file: string): Promise<CallCheckpoint | undefined> {
    try {
      return CallCheckpointSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    } catch {
      return undefined;
    }
  }

  /**
   * Takes a checkpoint over (renamed to `<file>.<pid>`); `release` removes it once its record is
   * written. A corrupt one is left renamed, for a person to read.
   */
  async claim(file: string, claimer: number = process.pid): Promise<ClaimedCheckpoint> {
    const claimed = `${file}.${claimer}`;
    try {
      await rename(file, claimed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
      throw err;
    }
    let text: string;
    try {
      text = await readFile(claimed, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
      throw err;
    }
    let parsed: ReturnType<typeof CallCheckpointSchema.safeParse>;
    try {
      parsed = CallCheckpointSchema.safeParse(JSON.parse(text));
    } catch {
      return { kind: 'corrupt', reason: 'not JSON', file: claimed };
    }
    if (!parsed.success)
      return { kind: 'corrupt', reason: 'not a valid checkpoint', file: claimed };
    return {
      kind: 'checkpoint',
      checkpoint: parsed.data,
      release: () => removeIfPresent(claimed),
    };
  }
}

/**
 * The record of a call whose job process died: as checkpointed, ended at `now` as failed unless
 * the call had already ended (the caller hung up, and the process died before writing).
 */
export function recordOfDeadJob(checkpoint: CallCheckpoint, now: Date): CallRecord {
  if (checkpoint.ended) return checkpoint.record;
  return {
    ...checkpoint.record,
    endedAt: now.toISOString(),
    outcome: 'failed',
    endReason: 'the job process died during the call; turns up to its last checkpoint',
  };
}

async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
