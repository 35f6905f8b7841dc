import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed webhook deliveries, Stripe-style: `x-switchboard-signature: t=<unix s>,v1=<hex>` where
 * v1 is HMAC-SHA256(secret, `<t>.<raw body>`). The timestamp is inside the MAC so a captured
 * request cannot be replayed later; the receiver rejects timestamps outside its tolerance.
 */
export const SIGNATURE_HEADER = 'x-switchboard-signature';
/** The call ID: the same on every retry of one record, so a receiver can drop duplicates. */
export const RECORD_ID_HEADER = 'x-switchboard-record-id';
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export function signWebhookBody(input: {
  secret: string;
  body: string | Uint8Array;
  timestampSeconds: number;
}): string {
  return `t=${input.timestampSeconds},v1=${mac(input.secret, input.timestampSeconds, input.body)}`;
}

/**
 * For receivers: true when `header` (the `x-switchboard-signature` value) signs `body` with
 * `secret` and its timestamp is within `toleranceSeconds` of `now`. Pass the raw request body as
 * received: re-serialised JSON does not match. Returns a boolean, not a result object, so that
 * `if (!verifyWebhookSignature(...))` cannot be written against an always-truthy value.
 */
export function verifyWebhookSignature(input: {
  secret: string;
  header: string | readonly string[] | null | undefined;
  body: string | Uint8Array;
  toleranceSeconds?: number;
  now?: Date;
}): boolean {
  if (input.secret === '' || input.header === null || input.header === undefined) return false;
  const header = typeof input.header === 'string' ? input.header : input.header.join(',');
  let timestampSeconds: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't' && /^\d{1,12}$/.test(value)) timestampSeconds = Number(value);
    // Several v1 values are allowed so a sender can sign with an old and a new secret in turn.
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (timestampSeconds === undefined || candidates.length === 0) return false;
  const nowSeconds = (input.now ?? new Date()).getTime() / 1000;
  const toleranceSeconds = input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(nowSeconds - timestampSeconds) > toleranceSeconds) return false;
  const expected = Buffer.from(mac(input.secret, timestampSeconds, input.body), 'hex');
  // Every candidate is compared, so the time taken does not tell which one came close.
  let valid = false;
  for (const candidate of candidates)
    valid = timingSafeEqual(expected, Buffer.from(candidate, 'hex')) || valid;
  return valid;
}

function mac(secret: string, timestampSeconds: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}
