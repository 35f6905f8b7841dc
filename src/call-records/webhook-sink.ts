import { SwitchboardError } from '../errors/index.js';
import { systemClock, type Clock } from './clock.js';
import { RecordSpool, type DeadLetter } from './record-spool.js';
import { salvageRecord } from './salvage.js';
import type { CallRecord } from './schema.js';
import type { RecordSink } from './sink.js';
import {
  backoffDelayMs,
  classifyStatus,
  parseRetryAfterMs,
  type ResponseVerdict,
} from './webhook-retry.js';
import { RECORD_ID_HEADER, SIGNATURE_HEADER, signWebhookBody } from './webhook-signature.js';
import { assertWritableDir } from './writable-dir.js';

export const MIN_WEBHOOK_SECRET_LENGTH = 32;
/** A receiver asking for longer than this is asked again after this long. */
const MAX_RETRY_AFTER_MS = 3_600_000;
const RESPONSE_EXCERPT_CHARS = 500;

export interface WebhookSinkOptions {
  /** CALL_RECORDS_WEBHOOK_URL: http(s), without user:password@. */
  url: string;
  /** CALL_RECORDS_WEBHOOK_SECRET: the HMAC key the receiver verifies with, at least 32 characters. */
  secret: string;
  /** CALL_RECORDS_SPOOL_DIR: where records wait until the receiver takes them (see RecordSpool). */
  spoolDir: string;
  /** How long `write` tries before it spools the record. Default 10 s, well inside a job's shutdown. */
  deliveryTimeoutMs?: number;
  /** One request, answer included. Default 5 s. */
  requestTimeoutMs?: number;
  /** First retry wait, doubling up to `maxBackoffMs` (each with jitter). Defaults 500 ms, 4 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often spooled records are sent again while some remain. Default 30 s. */
  resendIntervalMs?: number;
  fetch?: typeof fetch;
  clock?: Clock;
  /** For the backoff jitter: a number in [0, 1). */
  random?: () => number;
  /** Every record's fate, for the log: call ID, outcome, attempts, status (no record content). */
  onDelivery?: (report: DeliveryReport) => void;
  /** A resend pass that failed as a whole (the spool unreadable) or a spool file that was corrupt. */
  onResendError?: (error: Error) => void;
}

export interface DeliveryReport {
  callId: string;
  /** `spooled`: kept in `pending/` to be sent again; `dead_lettered`: the receiver refused it. */
  outcome: 'delivered' | 'spooled' | 'dead_lettered';
  /** `write`: the call's own delivery; `resend`: a spooled record sent again. */
  via: 'write' | 'resend';
  /** Requests made for this record in this delivery or resend. */
  attempts: number;
  /** The receiver's last HTTP status, when it answered. */
  status?: number;
  /** Why it was not delivered: `HTTP 503`, `ECONNREFUSED`, `no answer within 5000 ms`. */
  reason?: string;
}

export interface ResendSummary {
  delivered: number;
  deadLettered: number;
  /** Records still pending after this pass (it stops at the first one the receiver did not take). */
  remaining: number;
  /** The receiver's Retry-After on the record that stopped the pass. */
  retryAfterMs?: number;
}

interface Answer {
  verdict: ResponseVerdict;
  status?: number;
  reason: string;
  retryAfterMs?: number;
  response?: string;
}

/**
 * Sends each record as a signed JSON POST (see webhook-signature.ts) and never loses one:
 *
 * - `write` first puts the record in the spool (see RecordSpool), then tries for at most
 *   `deliveryTimeoutMs`: network errors, timeouts, 408, 425, 429 and 5xx are retried with
 *   exponential backoff and jitter, or after the receiver's Retry-After. A 2xx removes the spool
 *   file. Any other status means the receiver refuses the record: it is appended to the spool's
 *   dead-letter file, removed from `pending/`, and not retried. Out of time (or closed), the file
 *   stays and `write` resolves: the record is durable either way, even if the process is killed
 *   in the middle of the retries.
 * - Spooled records are sent again, oldest first, every `resendIntervalMs` while any remain, each
 *   removed only after a 2xx. The resend loop starts with the first `write` (a delivered write
 *   first sends what earlier processes left, since the receiver has just answered) and its timer
 *   does not hold the process open: whatever is left is sent by the next process that writes.
 * - Every request carries `x-switchboard-record-id: <callId>`, so a receiver that gets a record
 *   twice (a 2xx lost on the way back, two processes resending the same file) can drop the copy.
 *
 * A misconfigured sink (bad URL, short secret) does not throw in the constructor: `preflight`
 * reports it, and a `write` meanwhile goes straight to the spool.
 */
export class WebhookSink implements RecordSink {
  readonly description: string;
  readonly spool: RecordSpool;
  private readonly target: URL | SwitchboardError;
  private readonly secret: string;
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly deliveryTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly backoff: { initialBackoffMs: number; maxBackoffMs: number };
  private readonly resendIntervalMs: number;
  private readonly closing = new AbortController();
  private readonly inflight = new Set<Promise<unknown>>();
  private loop?: Promise<void>;
  private pass?: Promise<ResendSummary>;
  /** Set when a record is spooled; a resend pass clears it when it lists the spool. */
  private spoolDirty = false;
  private wakeLoop?: () => void;
  /** Spool files of writes still delivering them, which a resend pass leaves alone. */
  private readonly sending = new Set<string>();

  constructor(private readonly options: WebhookSinkOptions) {
    this.target = checkTarget(options.url, options.secret);
    this.secret = options.secret;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.backoff = {
      initialBackoffMs: options.initialBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 4_000,
    };
    this.resendIntervalMs = options.resendIntervalMs ?? 30_000;
    this.spool = new RecordSpool(options.spoolDir, this.clock);
    // Origin and path only: a query string may carry a token.
    this.description =
      this.target instanceof URL
        ? `webhook ${this.target.origin}${this.target.pathname} (spool ${options.spoolDir})`
        : `webhook (misconfigured; spool ${options.spoolDir})`;
  }

  async preflight(): Promise<void> {
    if (!(this.target instanceof URL)) throw this.target;
    await assertWritableDir(
      this.spool.pendingDir,
      'the call record spool',
      'Set CALL_RECORDS_SPOOL_DIR to a directory this process can write (default <CALL_RECORDS_DIR>/spool); records the webhook has not taken yet wait there.',
      0o700,
    );
  }

  async write(record: CallRecord): Promise<void> {
    await this.send(record);
  }

  /** As `write`, resolving with what happened: delivered, spooled or dead-lettered. */
  send(record: CallRecord): Promise<DeliveryReport> {
    return this.track(this.sendRecord(record));
  }

  /**
   * One pass over the spool, oldest first, one request per record; stops at the first record the
   * receiver does not take. Calls during a pass share it.
   */
  resendSpooled(): Promise<ResendSummary> {
    const target = this.target;
    if (!(target instanceof URL)) return Promise.reject(target);
    if (this.pass === undefined) {
      const pass = this.track(this.resendPass(target));
      this.pass = pass;
      const forget = () => {
        if (this.pass === pass) this.pass = undefined;
      };
      void pass.then(forget, forget);
    }
    return this.pass;
  }

  /**
   * Stops retrying and resending: a delivery in progress spools its record, then resolves. A
   * `write` after `close` spools without trying the network.
   */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.inflight]);
    await this.loop;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const forget = () => this.inflight.delete(work);
    void work.then(forget, forget);
    return work;
  }

  private async sendRecord(record: CallRecord): Promise<DeliveryReport> {
    // A record that does not validate is kept as a degraded one, never dropped.
    const valid = salvageRecord(record);
    // Spooled before the first request: a process killed while it retries (a job's shutdown has
    // a deadline) leaves the record for the next one. Without a spool, delivery is still tried.
    let file: string | undefined;
    let spoolError: unknown;
    try {
      file = await this.spool.add(valid);
      this.sending.add(file);
    } catch (err) {
      spoolError = err;
    }
    try {
      const answer = await this.attempt(valid);
      const report: DeliveryReport = {
        callId: valid.callId,
        outcome: 'delivered',
        via: 'write',
        attempts: answer.attempts,
        ...(answer.status === undefined ? {} : { status: answer.status }),
        ...(answer.verdict === 'delivered' ? {} : { reason: answer.reason }),
      };
      if (answer.verdict === 'reject') {
        try {
          await this.spool.deadLetter(valid, deadLetterDetails(answer));
          report.outcome = 'dead_lettered';
        } catch (err) {
          if (file === undefined)
            throw unkept(valid, answer.reason, this.spool.deadLetterFile, err);
          // Still pending: resent later, refused again, and dead-lettered then.
          report.outcome = 'spooled';
          report.reason = `${answer.reason}; the dead-letter file could not be written (${errorCode(err)})`;
        }
      } else if (answer.verdict === 'retry') {
        if (file === undefined)
          throw unkept(valid, answer.reason, this.spool.pendingDir, spoolError);
        report.outcome = 'spooled';
      }
      if (report.outcome === 'spooled') {
        this.wake();
        const askedMs = Math.min(answer.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
        this.startResending(Math.max(this.resendIntervalMs, askedMs));
      } else {
        if (file !== undefined) await this.forget(file);
        // The receiver just answered: a good moment to send what earlier calls left in the spool.
        this.startResending(0);
      }
      return this.notify(report);
    } finally {
      if (file !== undefined) this.sending.delete(file);
    }
  }

  private attempt(record: CallRecord): Promise<Answer & { attempts: number }> {
    if (!(this.target instanceof URL)) {
      return Promise.resolve({
        verdict: 'retry',
        reason: 'the webhook is misconfigured',
        attempts: 0,
      });
    }
    if (this.closing.signal.aborted) {
      return Promise.resolve({ verdict: 'retry', reason: 'the sink is closed', attempts: 0 });
    }
    return this.deliver(this.target, record.callId, JSON.stringify(record));
  }

  /** Removes a settled record's spool file; one left behind is only sent again (a duplicate). */
  private async forget(file: string): Promise<void> {
    try {
      await this.spool.remove(file);
    } catch (err) {
      this.notifyError(
        new Error(`could not remove ${file} (${errorCode(err)}); it will be sent again`),
      );
    }
  }

  private async deliver(
    url: URL,
    callId: string,
    body: string,
  ): Promise<Answer & { attempts: number }> {
    const deadlineMs = this.clock.nowMs() + this.deliveryTimeoutMs;
    let attempts = 0;
    let last: Answer = { verdict: 'retry', reason: 'deliveryTimeoutMs left no time to try' };
    for (;;) {
      const remainingMs = deadlineMs - this.clock.nowMs();
      if (remainingMs <= 0 || this.closing.signal.aborted) return { ...last, attempts };
      attempts += 1;
      last = await this.post(url, callId, body, Math.min(this.requestTimeoutMs, remainingMs));
      if (last.verdict !== 'retry') return { ...last, attempts };
      const waitMs = last.retryAfterMs ?? backoffDelayMs(attempts, this.backoff, this.random);
      // A wait that ends past the deadline would only delay the spooling.
      if (this.clock.nowMs() + waitMs >= deadlineMs) return { ...last, attempts };
      try {
        await this.clock.sleep(waitMs, { signal: this.closing.signal });
      } catch {
        return { ...last, attempts };
      }
    }
  }

  private async post(url: URL, callId: string, body: string, timeoutMs: number): Promise<Answer> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([this.closing.signal, timeout]);
    // Signed per attempt, so a record resent hours later still passes the receiver's tolerance.
    const timestampSeconds = Math.floor(this.clock.nowMs() / 1000);
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        body,
        // A redirect is refused (see classifyStatus), not followed with the signed body.
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'switchboard-call-records',
          [RECORD_ID_HEADER]: callId,
          [SIGNATURE_HEADER]: signWebhookBody({ secret: this.secret, body, timestampSeconds }),
        },
      });
    } catch (err) {
      return { verdict: 'retry', reason: this.failureReason(err, timeout, timeoutMs) };
    }
    const verdict = classifyStatus(response.status);
    let text = '';
    try {
      // Read to the end so the connection can carry the next request.
      text = await response.text();
    } catch {
      // The status decides; an answer cut short adds nothing.
    }
    const retryAfterMs =
      verdict === 'retry'
        ? parseRetryAfterMs(response.headers.get('retry-after'), this.clock.nowMs())
        : undefined;
    return {
      verdict,
      status: response.status,
      reason: `HTTP ${response.status}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(verdict === 'reject' && text !== ''
        ? { response: text.slice(0, RESPONSE_EXCERPT_CHARS) }
        : {}),
    };
  }

  private failureReason(err: unknown, timeout: AbortSignal, timeoutMs: number): string {
    if (this.closing.signal.aborted) return 'the sink was closed before the receiver answered';
    if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
    const cause = (err as { cause?: { code?: unknown } }).cause;
    return typeof cause?.code === 'string' ? cause.code : (err as Error).message;
  }

  private async resendPass(url: URL): Promise<ResendSummary> {
    this.spoolDirty = false;
    const files = await this.spool.list();
    const summary: ResendSummary = { delivered: 0, deadLettered: 0, remaining: 0 };
    for (const [index, file] of files.entries()) {
      if (this.closing.signal.aborted) return { ...summary, remaining: files.length - index };
      if (this.sending.has(file)) continue;
      const entry = await this.spool.read(file);
      if (entry.kind === 'gone') continue;
      if (entry.kind === 'corrupt') {
        await this.spool.quarantine(file);
        this.notifyError(new Error(`${file} is ${entry.reason}; moved aside to ${file}.corrupt`));
        continue;
      }
      const { record } = entry;
      const answer = await this.post(
        url,
        record.callId,
        JSON.stringify(record),
        this.requestTimeoutMs,
      );
      const base = {
        callId: record.callId,
        via: 'resend' as const,
        attempts: 1,
        ...(answer.status === undefined ? {} : { status: answer.status }),
      };
      if (answer.verdict === 'retry') {
        this.notify({ ...base, outcome: 'spooled', reason: answer.reason });
        return {
          ...summary,
          remaining: files.length - index,
          ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }),
        };
      }
      if (answer.verdict === 'reject') {
        await this.spool.deadLetter(record, deadLetterDetails(answer));
        summary.deadLettered += 1;
        this.notify({ ...base, outcome: 'dead_lettered', reason: answer.reason });
      } else {
        summary.delivered += 1;
        this.notify({ ...base, outcome: 'delivered' });
      }
      await this.forget(file);
    }
    return summary;
  }

  private startResending(firstDelayMs: number): void {
    if (!(this.target instanceof URL) || this.closing.signal.aborted) return;
    this.loop ??= this.resendLoop(firstDelayMs);
  }

  /** Owned by the sink, ended by close(); never rejects. */
  private async resendLoop(firstDelayMs: number): Promise<void> {
    const { signal } = this.closing;
    let delayMs = firstDelayMs;
    while (!signal.aborted) {
      if (delayMs > 0) {
        try {
          await this.clock.sleep(delayMs, { signal, ref: false });
        } catch {
          return;
        }
      }
      let summary: ResendSummary | undefined;
      try {
        summary = await this.resendSpooled();
      } catch (err) {
        this.notifyError(err instanceof Error ? err : new Error(String(err)));
      }
      if (summary?.remaining === 0) {
        if (!(await this.untilSpooled())) return;
        delayMs = this.resendIntervalMs;
      } else {
        const askedMs = Math.min(summary?.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
        delayMs = Math.max(this.resendIntervalMs, askedMs);
      }
    }
  }

  /** Resolves true once a record is spooled, false when the sink closes. */
  private untilSpooled(): Promise<boolean> {
    const { signal } = this.closing;
    if (signal.aborted) return Promise.resolve(false);
    if (this.spoolDirty) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        this.wakeLoop = undefined;
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.wakeLoop = () => {
        signal.removeEventListener('abort', onAbort);
        this.wakeLoop = undefined;
        resolve(true);
      };
    });
  }

  private wake(): void {
    this.spoolDirty = true;
    this.wakeLoop?.();
  }

  private notify(report: DeliveryReport): DeliveryReport {
    try {
      this.options.onDelivery?.(report);
    } catch {
      // A failing log line must not turn a delivered record into an error.
    }
    return report;
  }

  private notifyError(error: Error): void {
    try {
      this.options.onResendError?.(error);
    } catch {
      // As in notify().
    }
  }
}

function unkept(record: CallRecord, reason: string, where: string, err: unknown): SwitchboardError {
  return new SwitchboardError(
    'records_dir_unwritable',
    `The record of call ${record.callId} was not delivered to the webhook (${reason}) and could not be kept in ${where} (${errorCode(err)}). Set CALL_RECORDS_SPOOL_DIR to a writable directory with free space (default <CALL_RECORDS_DIR>/spool).`,
    { retryable: true, cause: err },
  );
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

function deadLetterDetails(answer: Answer): Omit<DeadLetter, 'deadLetteredAt' | 'record'> {
  return {
    reason: `the receiver refused the record (${answer.reason}); it is not retried`,
    ...(answer.status === undefined ? {} : { status: answer.status }),
    ...(answer.response === undefined ? {} : { response: answer.response }),
  };
}

/** The URL to post to, or every problem with the URL and the secret in one error. */
function checkTarget(url: string, secret: string): URL | SwitchboardError {
  const example = 'e.g. https://records.example.com/calls';
  const problems: string[] = [];
  let parsed: URL | undefined;
  if (url.trim() === '') {
    problems.push(`CALL_RECORDS_WEBHOOK_URL is empty: set it to your receiver's URL (${example})`);
  } else if (!URL.canParse(url)) {
    problems.push(
      `CALL_RECORDS_WEBHOOK_URL is not an absolute URL: set it to your receiver's URL (${example})`,
    );
  } else {
    const candidate = new URL(url);
    if (candidate.protocol !== 'https:' && candidate.protocol !== 'http:') {
      problems.push(
        `CALL_RECORDS_WEBHOOK_URL uses ${candidate.protocol}: use https:// (or http:// to a receiver on a private network)`,
      );
    } else if (candidate.username !== '' || candidate.password !== '') {
      problems.push(
        'CALL_RECORDS_WEBHOOK_URL contains a user name or password: remove them (fetch refuses such URLs; the receiver authenticates records by their signature)',
      );
    } else {
      parsed = candidate;
    }
  }
  const fixSecret = `a random string of at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (e.g. the output of \`openssl rand -hex 32\`) and give your receiver the same value`;
  if (secret === '') {
    problems.push(`CALL_RECORDS_WEBHOOK_SECRET is not set: set it to ${fixSecret}`);
  } else if (secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    problems.push(
      `CALL_RECORDS_WEBHOOK_SECRET has ${secret.length} characters, too few to resist guessing: set it to ${fixSecret}`,
    );
  }
  if (parsed !== undefined && problems.length === 0) return parsed;
  return new SwitchboardError(
    'record_sink_invalid',
    `The call record webhook is misconfigured. ${problems.join('. ')}.`,
  );
}
