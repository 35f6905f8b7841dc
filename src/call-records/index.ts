export { CallTracker } from './call-tracker.js';
export {
  CallCheckpointSchema,
  CHECKPOINT_DIR_NAME,
  CheckpointStore,
  recordOfDeadJob,
  type CallCheckpoint,
  type ClaimedCheckpoint,
} from './checkpoint-store.js';
export { CallOutcome, CallRecordSchema, type CallRecord } from './schema.js';
export { CallRecordWriter } from './writer.js';
export { readCallRecords, type ReadCallRecordsOptions } from './reader.js';
export { salvageRecord } from './salvage.js';
export type { RecordSink } from './sink.js';
export { FileSink } from './file-sink.js';
export {
  WebhookSink,
  MIN_WEBHOOK_SECRET_LENGTH,
  type DeliveryReport,
  type ResendSummary,
  type WebhookSinkOptions,
} from './webhook-sink.js';
export {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  RECORD_ID_HEADER,
  SIGNATURE_HEADER,
  signWebhookBody,
  verifyWebhookSignature,
} from './webhook-signature.js';
export {
  backoffDelayMs,
  classifyStatus,
  parseRetryAfterMs,
  type BackoffPolicy,
  type ResponseVerdict,
} from './webhook-retry.js';
export { RecordSpool, type DeadLetter, type SpoolEntry } from './record-spool.js';
export { MultiSink } from './multi-sink.js';
export { createRecordSink, type RecordsOptions } from './create-record-sink.js';
export { systemClock, type Clock } from './clock.js';
export {
  expiredDayFiles,
  pruneCallRecords,
  RecordRetention,
  RETENTION_PRUNE_INTERVAL_MS,
  startRecordRetention,
  type RecordRetentionOptions,
} from './retention.js';
