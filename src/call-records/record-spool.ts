import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from './clock.js';
import { CallRecordSchema, type CallRecord } from './schema.js';

/** A record the receiver refused, as kept in `dead-letter.jsonl`. */
export interface DeadLetter {
  deadLetteredAt: string;
  /** The receiver's HTTP status. */
  status?: number;
  reason: string;
  /** The start of the receiver's answer, to tell why it refused. */
  response?: string;
  record: CallRecord;
}

export type SpoolEntry =
  | { kind: 'record'; record: CallRecord }
  /** Another process delivered it and removed the file first. */
  | { kind: 'gone' }
  | { kind: 'corrupt'; reason: string };

const PENDING_NAME = /^\d{15}-[A-Za-z0-9_-]+\.json$/;

/**
 * Records waiting for the webhook, on local disk:
 *
 *   <dir>/pending/<ms>-<call id>-<random>.json   one record per file (mode 0600), oldest first
 *   <dir>/dead-letter.jsonl                      records the receiver refused, one JSON line each
 *
 * One file per record rather than one JSONL file because every job process of a worker shares
 * the directory: adding is write-a-temporary-file-then-rename and removing is unlink, so no
 * process ever rewrites a file another one is appending to, and a crash at any step leaves the
 * record either complete in `pending/` or not yet promised to anyone. Two processes can resend
 * the same file at once; the receiver drops the duplicate by its record ID.
 */
export class RecordSpool {
  readonly pendingDir: string;
  readonly deadLetterFile: string;

  constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {
    this.pendingDir = join(dir, 'pending');
    this.deadLetterFile = join(dir, 'dead-letter.jsonl');
  }

  /** Resolves with the record's file once it is on disk (file and directory entry synced). */
  async add(record: CallRecord): Promise<string> {
    await mkdir(this.pendingDir, { recursive: true, mode: 0o700 });
    // The random part keeps two writes of one call ID from sharing (and removing) one file.
    const name = `${String(this.clock.nowMs()).padStart(15, '0')}-${fileSafe(record.callId)}-${randomUUID().slice(0, 8)}.json`;
    const temporary = join(this.pendingDir, `.${name}.${process.pid}.${randomUUID()}.tmp`);
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify(record), 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    const final = join(this.pendingDir, name);
    await rename(temporary, final);
    await syncDir(this.pendingDir);
    return final;
  }

  /** Pending record files, oldest first; temporary files of unfinished adds are not listed. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.pendingDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => PENDING_NAME.test(n))
      .sort()
      .map((n) => join(this.pendingDir, n));
  }

  async read(file: string): Promise<SpoolEntry> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
      throw err;
    }
    try {
      const parsed = CallRecordSchema.safeParse(JSON.parse(text));
      return parsed.success
        ? { kind: 'record', record: parsed.data }
        : { kind: 'corrupt', reason: 'not a valid call record' };
    } catch {
      return { kind: 'corrupt', reason: 'not JSON' };
    }
  }

  /** After a 2xx. Already gone is fine: another process delivered it too. */
  async remove(file: string): Promise<void> {
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Moves an unreadable file out of the queue (kept as `<name>.corrupt` for a person to read). */
  async quarantine(file: string): Promise<void> {
    try {
      await rename(file, `${file}.corrupt`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Appends one line and syncs it; a record is removed from `pending/` only after this. */
  async deadLetter(
    record: CallRecord,
    details: Omit<DeadLetter, 'deadLetteredAt' | 'record'>,
  ): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const entry: DeadLetter = {
      deadLetteredAt: new Date(this.clock.nowMs()).toISOString(),
      ...details,
      record,
    };
    // Append mode and the whole line in one call (one write below 512 KiB), so lines from
    // concurrent processes do not interleave.
    const file = await open(this.deadLetterFile, 'a', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(entry)}\n`, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
  }
}

/** A file name that cannot escape the directory, unique per call ID even after replacements. */
function fileSafe(callId: string): string {
  const readable = callId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return `${readable}-${createHash('sha256').update(callId).digest('hex').slice(0, 8)}`;
}

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems cannot sync a directory; the rename itself is still atomic there.
  } finally {
    await handle?.close();
  }
}
