export { CallTracker } from './call-tracker.js';
export { CallOutcome, CallRecordSchema, type CallRecord } from './schema.js';
export { CallRecordWriter } from './writer.js';
export { readCallRecords } from './reader.js';
