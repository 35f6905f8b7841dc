import { chmod, mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SwitchboardError } from '../errors/index.js';
import {
  JournalEntrySchema,
  resultLineOf,
  type AttemptEndEntry,
  type JournalEntry,
  type ResultLine,
  type StartedEntry,
} from './journal.js';

/**
 * A campaign's durable state, in its own directory (mode 0700, files 0600: phone numbers and
 * outcomes are personal data):
 *
 * - `journal.jsonl`, the truth: every entry is written and fsynced before the step it records
 *   goes on. "Attempt N of row R started" is on disk before the dial, so a process killed at any
 *   point (SIGKILL included) leaves either no entry, and no call was placed, or a started
 *   attempt, which the next run records as `interrupted` and never dials again as the same
 *   attempt. A torn last line (the kill came mid-write, before the dial) is cut off at open.
 * - `results.jsonl`, derived: one line per finished attempt. A line the kill prevented is written
 *   at the next open from the journal, without the call's end time.
 * - `lock`: the pid of the process running the campaign; a second one is refused while it lives.
 */
export const JOURNAL_FILE = 'journal.jsonl';
export const RESULTS_FILE = 'results.jsonl';
export const LOCK_FILE = 'lock';

export const DEFAULT_CAMPAIGNS_DIR = '.stack/campaigns';

/** `<baseDir>/<name>`; names are checked, so one campaign cannot write into another's directory. */
export function campaignDir(baseDir: string, name: string): string {
  if (!CAMPAIGN_NAME.test(name))
    throw new SwitchboardError(
      'campaign_options_invalid',
      `--name "${name}" is not a campaign name: letters, digits, ".", "_" and "-", at most 64, not starting with "."`,
    );
  return join(baseDir, name);
}

export const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface JournalRead {
  entries: JournalEntry[];
  /** Bytes of a torn last line that were skipped (0: none). */
  tornBytes: number;
  /** Length of the file up to the end of its last whole line. */
  goodBytes: number;
}

/** Reads a journal; a missing file is an empty one. A broken line before the last is an error. */
export async function readJournal(dir: string): Promise<JournalRead> {
  const file = join(dir, JOURNAL_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { entries: [], tornBytes: 0, goodBytes: 0 };
    throw storeError(`Cannot read ${file}`, err);
  }
  const goodBytes = bytes.lastIndexOf(0x0a) + 1;
  const entries: JournalEntry[] = [];
  const lines = bytes.subarray(0, goodBytes).toString('utf8').split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      json = undefined;
    }
    const parsed = JournalEntrySchema.safeParse(json);
    if (!parsed.success)
      throw new SwitchboardError(
        'campaign_store_invalid',
        `The campaign journal ${file} has a broken entry at line ${index + 1}, which no kill can leave (only a last line can be torn): the file was edited or damaged. Restore it, or start the campaign under another --name (a new name redials every row).`,
      );
    entries.push(parsed.data);
  });
  return { entries, tornBytes: bytes.length - goodBytes, goodBytes };
}

/** What the runner needs of a campaign's state: its journal, and the results file. */
export interface CampaignStateStore {
  readonly name: string;
  /** Every entry: those there at open, then those appended. */
  readonly entries: readonly JournalEntry[];
  /** Appends one entry; resolves only once it is durable. */
  append: (entry: JournalEntry) => Promise<void>;
  appendResult: (line: ResultLine) => Promise<void>;
}

/**
 * The attempts a journal leaves started without an end (its process was killed), closed as
 * `interrupted` at `nowMs`: what a store appends when it opens.
 */
export function interruptedAttempts(
  entries: readonly JournalEntry[],
  nowMs: number,
): AttemptEndEntry[] {
  const open = new Map<string, StartedEntry>();
  for (const e of entries) {
    if (e.type === 'started') open.set(`${e.attempt}:${e.rowId}`, e);
    else if (e.type === 'outcome' || e.type === 'interrupted' || e.type === 'not_placed')
      open.delete(`${e.attempt}:${e.rowId}`);
  }
  return [...open.values()].map((s) => ({
    type: 'interrupted',
    atMs: nowMs,
    rowId: s.rowId,
    attempt: s.attempt,
    detail:
      'the campaign process stopped during this attempt; whether the call went through is not known, so it is not dialled again',
  }));
}

export class CampaignStore implements CampaignStateStore {
  private readonly journalEntries: JournalEntry[];
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    readonly dir: string,
    readonly name: string,
    entries: JournalEntry[],
    private readonly journal: FileHandle,
    private readonly results: FileHandle,
  ) {
    this.journalEntries = entries;
  }

  /**
   * Takes the campaign's lock, cuts off a torn last line, records every attempt left started
   * without an outcome as `interrupted` (at `nowMs`), and writes the result lines a kill lost.
   */
  static async open(dir: string, name: string, nowMs: number): Promise<CampaignStore> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    } catch (err) {
      throw storeError(`Cannot create the campaign directory ${dir}`, err);
    }
    await takeLock(dir);
    try {
      const read = await readJournal(dir);
      const journal = await openAppend(join(dir, JOURNAL_FILE));
      if (read.tornBytes > 0) {
        await journal.truncate(read.goodBytes);
        await journal.sync();
      }
      const results = await openAppend(join(dir, RESULTS_FILE));
      await syncDir(dir);
      const store = new CampaignStore(dir, name, read.entries, journal, results);
      await store.recover(nowMs);
      return store;
    } catch (err) {
      await releaseLock(dir);
      throw err;
    }
  }

  /** Every entry: those read at open, then those appended. */
  get entries(): readonly JournalEntry[] {
    return this.journalEntries;
  }

  /** Appends one entry and syncs it to disk; resolves only once it is durable. */
  append(entry: JournalEntry): Promise<void> {
    return this.write(this.journal, entry, () => this.journalEntries.push(entry));
  }

  /** Appends a line to results.jsonl, synced. */
  appendResult(line: ResultLine): Promise<void> {
    return this.write(this.results, line);
  }

  /** Waits for the writes under way, then closes the files and releases the lock. */
  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    await Promise.allSettled([this.journal.close(), this.results.close()]);
    await releaseLock(this.dir);
  }

  private write(handle: FileHandle, value: unknown, onDurable?: () => void): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    // One write at a time, in order: a later entry is never on disk without an earlier one.
    const written = this.tail.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        await handle.write(line);
        await handle.datasync();
      } catch (err) {
        this.failure = storeError(`Cannot write the campaign state in ${this.dir}`, err);
        throw this.failure;
      }
      onDurable?.();
    });
    this.tail = written.catch(() => undefined);
    return written;
  }

  private async recover(nowMs: number): Promise<void> {
    for (const entry of interruptedAttempts(this.journalEntries, nowMs)) await this.append(entry);
    const key = (e: { rowId: string; attempt: number }) => `${e.attempt}:${e.rowId}`;
    const started = new Map<string, StartedEntry>();
    for (const e of this.journalEntries) if (e.type === 'started') started.set(key(e), e);
    const written = new Set((await readLines(join(this.dir, RESULTS_FILE))).map(key));
    for (const e of this.journalEntries) {
      if (e.type !== 'outcome' && e.type !== 'interrupted' && e.type !== 'not_placed') continue;
      const s = started.get(key(e));
      if (s !== undefined && !written.has(key(e)))
        await this.appendResult(resultLineOf(this.name, s, e));
    }
  }
}

/** results.jsonl's lines, a torn last one cut off (the file is derived: a bad line is skipped). */
async function readLines(file: string): Promise<ResultLine[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw storeError(`Cannot read ${file}`, err);
  }
  const goodBytes = bytes.lastIndexOf(0x0a) + 1;
  if (goodBytes < bytes.length) {
    const handle = await open(file, 'r+');
    try {
      await handle.truncate(goodBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  const lines: ResultLine[] = [];
  for (const line of bytes.subarray(0, goodBytes).toString('utf8').split('\n')) {
    try {
      const value = JSON.parse(line) as Partial<ResultLine> | null;
      if (typeof value?.rowId === 'string' && typeof value.attempt === 'number')
        lines.push(value as ResultLine);
    } catch {
      // Not a result line.
    }
  }
  return lines;
}

async function openAppend(file: string): Promise<FileHandle> {
  try {
    const handle = await open(file, 'a', 0o600);
    // `open`'s mode applies only to a file it creates.
    await handle.chmod(0o600);
    return handle;
  } catch (err) {
    throw storeError(`Cannot open ${file}`, err);
  }
}

/** A new file's name is durable only once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per campaign: two would each dial what the other is dialling. A lock left by a
 * process that is gone (killed) is taken over.
 */
async function takeLock(dir: string): Promise<void> {
  const file = join(dir, LOCK_FILE);
  if (lockedHere.has(resolve(dir)))
    throw new SwitchboardError(
      'campaign_state_conflict',
      `The campaign in ${dir} is already open in this process. Close it first, or use another --name.`,
    );
  for (let tries = 0; tries < 2; tries++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.write(`${process.pid}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      lockedHere.add(resolve(dir));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw storeError(`Cannot create the campaign lock ${file}`, err);
    }
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
      throw new SwitchboardError(
        'campaign_state_conflict',
        `The campaign in ${dir} is already running (process ${pid}). Wait for it, stop it, or use another --name.`,
      );
    await unlink(file).catch(() => undefined);
  }
  throw new SwitchboardError(
    'campaign_state_conflict',
    `Cannot take the campaign lock ${file}: another process keeps taking it.`,
  );
}

/** Campaign directories this process holds the lock of (the pid alone cannot tell). */
const lockedHere = new Set<string>();

async function releaseLock(dir: string): Promise<void> {
  await unlink(join(dir, LOCK_FILE)).catch(() => undefined);
  lockedHere.delete(resolve(dir));
}

/** The pid in the campaign's lock if that process is alive. */
export async function runningPid(dir: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dir, LOCK_FILE), 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function storeError(what: string, err: unknown): SwitchboardError {
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new SwitchboardError(
    'campaign_store_invalid',
    `${what} (${reason}). Campaign state needs a writable local disk: fix the directory's owner and permissions, or choose another with --dir.`,
    { cause: err },
  );
}
