import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from './clock.js';

const DAY_MS = 86_400_000;
/** A day file of FileSink (file-sink.ts): `calls-YYYY-MM-DD.jsonl`, the UTC day the calls ended. */
const DAY_FILE = /^calls-(\d{4}-\d{2}-\d{2})\.jsonl$/;
/**
 * How often a running worker prunes. A day file becomes prunable once a day (at UTC midnight), so
 * it goes at most this long after its newest record left the retention window. Unit: ms.
 */
export const RETENTION_PRUNE_INTERVAL_MS = 3_600_000;

/**
 * The day files whose every record ended more than `retentionDays` days before `nowMs`. A file
 * holds the records that ended on its UTC day, the newest just before the next midnight: it goes
 * only once that midnight is itself outside the window, so no record inside it is ever removed.
 * Files this does not recognise (another name, a day that is not a date) are kept.
 */
export function expiredDayFiles(
  names: readonly string[],
  retentionDays: number,
  nowMs: number,
): string[] {
  const cutoffMs = nowMs - retentionDays * DAY_MS;
  return names.filter((name) => {
    const day = DAY_FILE.exec(name)?.[1];
    if (day === undefined) return false;
    const startMs = Date.parse(`${day}T00:00:00.000Z`);
    // Date.parse rolls some impossible days over (2026-02-30); those are not FileSink's names.
    if (Number.isNaN(startMs) || new Date(startMs).toISOString().slice(0, 10) !== day) return false;
    return startMs + DAY_MS <= cutoffMs;
  });
}

/**
 * Removes the expired day files of `dir` (see `expiredDayFiles`) and resolves with their names. A
 * missing directory (no call yet) or a file another process removed first is no failure. One file
 * that cannot be removed does not stop the others; the first such error is thrown at the end.
 */
export async function pruneCallRecords(
  dir: string,
  retentionDays: number,
  nowMs: number,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  let failure: Error | undefined;
  for (const name of expiredDayFiles(names, retentionDays, nowMs)) {
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      failure ??= err as Error;
    }
  }
  if (failure !== undefined) throw failure;
  return removed;
}

export interface RecordRetentionOptions {
  dir: string;
  /** Records are kept at least this long after their call ended. Unit: days. */
  retentionDays: number;
  /** Unit: ms. Default: RETENTION_PRUNE_INTERVAL_MS. */
  intervalMs?: number;
  clock?: Clock;
  /** After each pass that removed files (names only: no numbers in them). */
  onPruned?: (files: readonly string[]) => void;
  /** A pass that failed; the next one runs as planned. */
  onError: (err: unknown) => void;
}

/**
 * Removes expired call record files at start and then every `intervalMs`, until stopped. Run by
 * the worker process only: its job processes only append records, and one pruner is enough.
 * The wait between passes does not keep the process alive.
 */
export class RecordRetention {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly intervalMs: number;

  constructor(private readonly opts: RecordRetentionOptions) {
    this.clock = opts.clock ?? systemClock;
    this.intervalMs = opts.intervalMs ?? RETENTION_PRUNE_INTERVAL_MS;
  }

  /** Starts the passes (the first at once). Calling it again does nothing. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Cancels the wait for the next pass; resolves once a pass under way has finished. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One pass now; failures go to `onError`. */
  async pruneOnce(): Promise<void> {
    try {
      const removed = await pruneCallRecords(
        this.opts.dir,
        this.opts.retentionDays,
        this.clock.nowMs(),
      );
      if (removed.length > 0) this.opts.onPruned?.(removed);
    } catch (err) {
      try {
        this.opts.onError(err);
      } catch {
        // A reporter that fails must not end the passes (nor reject where nobody listens).
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.pruneOnce();
      try {
        await this.clock.sleep(this.intervalMs, { signal, ref: false });
      } catch {
        return; // stopped
      }
    }
  }
}

/** Starts the retention of the configured records directory (`Config['records']`). */
export function startRecordRetention(
  records: { dir: string; retentionDays: number },
  reports: Pick<RecordRetentionOptions, 'onPruned' | 'onError'>,
): RecordRetention {
  const retention = new RecordRetention({ ...records, ...reports });
  retention.start();
  return retention;
}
