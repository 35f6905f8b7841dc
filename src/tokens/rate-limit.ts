/**
 * A token bucket per key (a client address, a user): `perMinute` requests at once, then one every
 * 60 / `perMinute` seconds (or `perHour` at once, then one every 60 / `perHour` minutes: for what
 * costs more than a token, a phone call back). Time is injected, so tests control it.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  /** Whole ms in the usual cases (3600000 / 10), so Retry-After is exact. */
  private readonly msPerToken: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(
    opts: ({ perMinute: number; perHour?: never } | { perHour: number; perMinute?: never }) & {
      /** Injected so tests control time. Unit: ms. */
      now?: () => number;
      /** Buckets kept before the full ones (idle keys) are forgotten. Default 100000. */
      maxKeys?: number;
    },
  ) {
    const [perWindow, windowMs, name] =
      opts.perHour === undefined
        ? [opts.perMinute, 60_000, 'perMinute']
        : [opts.perHour, 3_600_000, 'perHour'];
    if (!(perWindow > 0)) throw new RangeError(`${name} must be above 0`);
    this.capacity = perWindow;
    this.msPerToken = windowMs / perWindow;
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Takes one request's token for `key`, or says when the next one is due (whole seconds). */
  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.refilled(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const waitMs = (1 - bucket.tokens) * this.msPerToken;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  private refilled(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.forgetFull(now);
      bucket = { tokens: this.capacity, atMs: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.atMs);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsed / this.msPerToken);
    bucket.atMs = now;
    return bucket;
  }

  /** A bucket that has filled up again is the same as no bucket. */
  private forgetFull(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + Math.max(0, now - b.atMs) / this.msPerToken >= this.capacity)
        this.buckets.delete(key);
    }
  }
}
