/**
 * DTMF out: RFC 4733 telephone events on a phone caller's line, through livekit-sip. The codes
 * are RFC 4733's: digits are themselves, then * # A B C D.
 */
const EVENT_CODES: Readonly<Record<string, number>> = {
  '0': 0,
  '1': 1,
  '2': 2,
  '3': 3,
  '4': 4,
  '5': 5,
  '6': 6,
  '7': 7,
  '8': 8,
  '9': 9,
  '*': 10,
  '#': 11,
  A: 12,
  B: 13,
  C: 14,
  D: 15,
};

export const TONE_DIGITS = /^[0-9*#A-D]{1,32}$/;

/** A receiver tells two events apart by the gap between them (the framework's own tool: 300 ms). */
export const TONE_GAP_MS = 300;

export function dtmfEventCode(key: string): number {
  const code = EVENT_CODES[key];
  if (code === undefined) throw new RangeError(`not a DTMF key: ${JSON.stringify(key)}`);
  return code;
}

export interface DtmfPublisher {
  publishDtmf(code: number, digit: string): Promise<void>;
}

/** Sends each key as one event, `TONE_GAP_MS` apart; stops early when `signal` aborts. */
export async function sendTones(
  to: DtmfPublisher,
  digits: string,
  signal?: AbortSignal,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  if (!TONE_DIGITS.test(digits)) throw new RangeError('DTMF digits must be 1 to 32 of 0-9 * # A-D');
  for (const digit of digits) {
    if (signal?.aborted === true) return;
    await to.publishDtmf(dtmfEventCode(digit), digit);
    await sleep(TONE_GAP_MS);
  }
}
