import { FileSink } from './file-sink.js';
import { MultiSink } from './multi-sink.js';
import type { RecordSink } from './sink.js';
import { WebhookSink, type WebhookSinkOptions } from './webhook-sink.js';

/** The records part of the configuration (`Config['records']`). */
export interface RecordsOptions {
  dir: string;
  webhook?: { url: string; secret: string; spoolDir: string };
}

/**
 * Local files always; with a webhook configured, the webhook as well (hosts without a durable
 * disk, such as LiveKit Cloud, rely on the webhook, the files there being lost with the machine).
 */
export function createRecordSink(
  records: RecordsOptions,
  reports: Pick<WebhookSinkOptions, 'onDelivery' | 'onResendError'> = {},
): RecordSink {
  const files = new FileSink(records.dir);
  if (records.webhook === undefined) return files;
  return new MultiSink([files, new WebhookSink({ ...records.webhook, ...reports })]);
}
