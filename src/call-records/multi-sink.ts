import type { CallRecord } from './schema.js';
import type { RecordSink } from './sink.js';

/**
 * Writes every record to several sinks at once (local files and a webhook). A write resolves when
 * every sink has it and rejects with the first failure, but only after the others finished, so
 * one sink failing never cuts another short.
 */
export class MultiSink implements RecordSink {
  readonly description: string;

  constructor(private readonly sinks: readonly RecordSink[]) {
    this.description = sinks.map((s) => s.description).join(' + ');
  }

  async write(record: CallRecord): Promise<void> {
    await allOrFirstError(this.sinks.map((s) => s.write(record)));
  }

  async preflight(): Promise<void> {
    await allOrFirstError(this.sinks.map((s) => s.preflight()));
  }

  async close(): Promise<void> {
    await allOrFirstError(this.sinks.map((s) => s.close()));
  }
}

async function allOrFirstError(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
