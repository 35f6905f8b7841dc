import type { CallRecord } from './schema.js';

/**
 * Where finished call records go: local files, a webhook, or both. One sink per process; the
 * call's shutdown writes its record once. The in-memory fake for tests is in sink.fake.ts.
 */
export interface RecordSink {
  /**
   * Resolves once the record is durable: delivered, or kept on local disk to be delivered later.
   * Rejects when neither happened (the caller still holds the record and may log the failure).
   */
  write(record: CallRecord): Promise<void>;
  /** Checks the configuration and the local directories before the worker takes calls. */
  preflight(): Promise<void>;
  /** Stops background work; resolves once the writes already started are durable. */
  close(): Promise<void>;
  /** Where records go, for a start-up line. Never contains a secret. */
  readonly description: string;
}
