import { appendFile, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { salvageRecord } from './salvage.js';
import type { CallRecord } from './schema.js';
import type { RecordSink } from './sink.js';
import { assertWritableDir } from './writable-dir.js';

/**
 * Appends records to `<dir>/calls-YYYY-MM-DD.jsonl` (UTC day of the call's end, mode 0600, also
 * for a file that existed with a wider mode: records hold phone numbers and transcripts). A record
 * is validated before it is written (one that fails is kept degraded, see salvage.ts), so a
 * reader meets a malformed line only where a write was torn.
 */
export class FileSink implements RecordSink {
  readonly description: string;
  private readonly writes = new Set<Promise<unknown>>();
  /** Files whose mode this sink has set; `appendFile`'s mode applies only to a file it creates. */
  private readonly secured = new Set<string>();

  constructor(private readonly dir: string) {
    this.description = `files in ${dir}`;
  }

  async write(record: CallRecord): Promise<void> {
    await this.append(record);
  }

  /** As `write`, resolving with the file the record was appended to. */
  append(record: CallRecord): Promise<string> {
    const written = this.appendLine(record);
    this.writes.add(written);
    const forget = () => this.writes.delete(written);
    void written.then(forget, forget);
    return written;
  }

  preflight(): Promise<void> {
    return assertWritableDir(
      this.dir,
      'call records',
      'Set CALL_RECORDS_DIR to a directory this process can write (it is created if missing), or fix its owner and permissions. Where there is no durable disk (LiveKit Cloud), also set CALL_RECORDS_WEBHOOK_URL and CALL_RECORDS_WEBHOOK_SECRET to send records to your server.',
    );
  }

  /** Nothing to release: waits for the appends already started. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  private async appendLine(record: CallRecord): Promise<string> {
    // A record that does not validate is kept as a degraded one, never dropped.
    const valid = salvageRecord(record);
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `calls-${valid.endedAt.slice(0, 10)}.jsonl`);
    await appendFile(file, `${JSON.stringify(valid)}\n`, { encoding: 'utf8', mode: 0o600 });
    if (!this.secured.has(file)) {
      await chmod(file, 0o600);
      this.secured.add(file);
    }
    return file;
  }
}
