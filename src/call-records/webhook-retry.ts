/**
 * What the webhook sink does with each answer: a 2xx delivers; 408, 425, 429 and 5xx are worth
 * trying again (the receiver is busy, restarting or overloaded); any other status means the
 * receiver refuses this record (bad signature, unknown path, a body it cannot accept), and sending
 * the same bytes again cannot change that, so the record goes to the dead-letter file. A redirect
 * is refused too: the signed body is not re-sent to a host nobody configured.
 */
export type ResponseVerdict = 'delivered' | 'retry' | 'reject';

export function classifyStatus(status: number): ResponseVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

export interface BackoffPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * The wait before retry number `attempt` (1 after the first failure): doubling from
 * `initialBackoffMs` up to `maxBackoffMs`, then a random half of it taken off, so workers that
 * failed together do not retry together.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(ceilingMs / 2 + (ceilingMs / 2) * random());
}

/** `Retry-After` as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const atMs = Date.parse(text);
  if (Number.isNaN(atMs) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, atMs - nowMs);
}
