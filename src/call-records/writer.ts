import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CallRecordSchema, type CallRecord } from './schema.js';

/**
 * Appends records to `<dir>/calls-YYYY-MM-DD.jsonl` (UTC day of the call's end). A record is
 * validated before it is written, so a reader never meets a malformed line.
 */
export class CallRecordWriter {
  constructor(private readonly dir: string) {}

  async write(record: CallRecord): Promise<string> {
    const valid = CallRecordSchema.parse(record);
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `calls-${valid.endedAt.slice(0, 10)}.jsonl`);
    await appendFile(file, `${JSON.stringify(valid)}\n`, { encoding: 'utf8', mode: 0o600 });
    return file;
  }
}
