import { FileSink } from './file-sink.js';
import type { CallRecord } from './schema.js';

/**
 * The file sink under its first name and signature (`write` resolves with the file), for code
 * that still imports it. New code takes a `RecordSink` (see `createRecordSink`).
 */
export class CallRecordWriter {
  private readonly files: FileSink;

  constructor(dir: string) {
    this.files = new FileSink(dir);
  }

  write(record: CallRecord): Promise<string> {
    return this.files.append(record);
  }
}
