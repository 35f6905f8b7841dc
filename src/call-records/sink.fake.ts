import { CallRecordSchema, type CallRecord } from './schema.js';
import type { RecordSink } from './sink.js';

/**
 * An in-memory sink for unit tests of code that writes records. Records are validated as the real
 * sinks validate them, so a test catches a record no sink would accept.
 */
export class FakeRecordSink implements RecordSink {
  readonly description = 'memory (test fake)';
  readonly records: CallRecord[] = [];
  closed = false;

  constructor(
    private readonly behaviour: {
      /** Every write rejects with this (a full disk, an unreachable receiver with no spool). */
      writeError?: Error;
      preflightError?: Error;
    } = {},
  ) {}

  write(record: CallRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('FakeRecordSink: write after close()'));
    if (this.behaviour.writeError !== undefined) return Promise.reject(this.behaviour.writeError);
    const parsed = CallRecordSchema.safeParse(record);
    if (!parsed.success) return Promise.reject(parsed.error);
    this.records.push(parsed.data);
    return Promise.resolve();
  }

  preflight(): Promise<void> {
    return this.behaviour.preflightError === undefined
      ? Promise.resolve()
      : Promise.reject(this.behaviour.preflightError);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
