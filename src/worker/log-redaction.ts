import { log } from '@livekit/agents';

/**
 * Phone numbers out of the logs, at the logger. The agents framework logs participant identities
 * (`sip_+15551234567`), room names that carry the caller's number and SIP URIs in its own fields,
 * at info level, where this package's code cannot reach them. Every line the framework's pino
 * logger writes (the worker's and each job process's, children included: they share the root's
 * destination) passes through `redactLogLine` before any destination (stdout, pino-pretty, OTEL)
 * sees it.
 *
 * Why the destination and not pino's `formatters`/`hooks`: the framework builds its pino instance
 * itself (`initializeLogger` takes no pino options), and a child logger's bindings are serialised
 * once, when the child is made, so a `formatters.log` added later never sees `room_id` or a
 * participant identity bound by the framework. The finished line is the one place that holds
 * every field.
 *
 * What counts as a phone number, in string values and keys (never in numbers: times, ports and
 * durations stay as they are):
 * - `+` and 6 to 15 digits, up to two spaces, dots, dashes or parentheses between two digits
 *   (E.164 and its written forms: `+15551234567`, `+1 (555) 123-4567`);
 * - a run of 7 or more digits not joined to letters or other digits (`sip_15551234567`,
 *   `sip:5550123@host`); digits inside identifiers such as `AJ_abc1234567x` stay, and so do UUIDs.
 * Each becomes `***` and its last two digits (`+***67`): enough to tell two calls apart in one
 * log, not enough to call anyone. A line also keeps the framework's `jobID` and `room_id` and
 * this package's `jobId`, which say which call it was.
 *
 * Not redacted: values under keys that start with `lk.pii.`, the framework's designated PII keys
 * (this package has none of its own; PII it must log goes there, and only at debug level).
 */
export const PII_KEY_PREFIX = 'lk.pii.';

const UUID = String.raw`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`;
const INTERNATIONAL = String.raw`\+\d(?:[ .()-]{0,2}\d){5,14}(?!\d)`;
const DIGIT_RUN = String.raw`(?<![A-Za-z0-9])\d{7,}(?![A-Za-z0-9])`;
// UUIDs first: at the position where one starts it is taken whole, and kept.
const PHONE_LIKE = new RegExp(`(${UUID})|${INTERNATIONAL}|${DIGIT_RUN}`, 'gi');

/** One string with every phone-number-like part replaced by `***` and its last two digits. */
export function redactPhoneNumbers(text: string): string {
  return text.replace(PHONE_LIKE, (match: string, uuid: string | undefined) => {
    if (uuid !== undefined) return match;
    const digits = match.replace(/\D/g, '');
    return `${match.startsWith('+') ? '+' : ''}***${digits.slice(-2)}`;
  });
}

/** A JSON value with its strings (and keys) redacted; the same object when nothing changed. */
function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactPhoneNumbers(value);
  if (Array.isArray(value)) {
    const items = value.map(redactValue);
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (typeof value === 'object' && value !== null) {
    let changed = false;
    // No prototype: a field named `__proto__` in a line stays a field.
    const out = Object.create(null) as Record<string, unknown>;
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (key.startsWith(PII_KEY_PREFIX)) {
        out[key] = inner;
        continue;
      }
      const safeKey = redactPhoneNumbers(key);
      const safe = redactValue(inner);
      if (safeKey !== key || safe !== inner) changed = true;
      out[safeKey] = safe;
    }
    return changed ? out : value;
  }
  return value;
}

/**
 * One log line as pino writes it (JSON and a newline), redacted. Lines with nothing to redact are
 * returned as they came; a line that is not JSON is redacted as plain text.
 */
export function redactLogLine(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return redactPhoneNumbers(line);
  }
  const redacted = redactValue(parsed);
  if (redacted === parsed) return line;
  return `${JSON.stringify(redacted)}${line.endsWith('\n') ? '\n' : ''}`;
}

const INSTALLED = Symbol.for('switchboard.logRedaction');

interface Destination {
  write: (line: unknown, ...rest: unknown[]) => unknown;
  [INSTALLED]?: true;
}

/**
 * The destination of a pino logger. pino keeps it under a module-private symbol (described
 * `pino.stream`), own on the root and inherited by children; this package does not depend on
 * pino itself, and the framework's copy may not be the one a `pino` import would load.
 */
function destinationOf(logger: object): Destination | undefined {
  for (let o: object | null = logger; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const key = Object.getOwnPropertySymbols(o).find((s) => s.description === 'pino.stream');
    if (key === undefined) continue;
    const stream = (o as Record<symbol, unknown>)[key];
    if (typeof stream === 'object' && stream !== null && 'write' in stream) {
      if (typeof stream.write === 'function') return stream as Destination;
    }
    return undefined;
  }
  return undefined;
}

/**
 * Makes every line of `logger` (a pino logger) and of every child of its root pass through
 * `redactLogLine`. Idempotent. False: not a pino logger this knows how to reach.
 */
export function redactLogger(logger: object): boolean {
  const destination = destinationOf(logger);
  if (destination === undefined) return false;
  if (destination[INSTALLED] === true) return true;
  const write = destination.write;
  // Replaced in place, not wrapped: pino sets the line's level on this very object (a
  // multistream picks its streams by it) just before calling `write`.
  destination.write = function (this: unknown, line: unknown, ...rest: unknown[]) {
    return write.call(this, typeof line === 'string' ? redactLogLine(line) : line, ...rest);
  };
  destination[INSTALLED] = true;
  return true;
}

/**
 * Redacts the framework's logger of this process (see the top of this file). Call it once the
 * framework has initialised it: in the worker after `initializeLogger`, in a job process from
 * prewarm (the framework initialises its logger before it). False: there is no logger yet, or it
 * could not be reached; the caller says so.
 */
export function redactFrameworkLogs(): boolean {
  let logger: object;
  try {
    logger = log();
  } catch {
    return false;
  }
  return redactLogger(logger);
}
