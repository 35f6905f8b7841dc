/**
 * A campaign dials numbers from a file someone typed: only numbers written with their country
 * code count. Without the `+` (or `00`), "5550123" could be any country's, and normalising it the
 * way an inbound caller's number is (src/caller/phone-number.ts) would dial the wrong one.
 */
export function parseE164(raw: string): string | undefined {
  const compact = raw.trim().replace(/[\s().-]/g, '');
  const match = /^(?:\+|00)([1-9]\d{5,14})$/.exec(compact);
  return match?.[1] === undefined ? undefined : `+${match[1]}`;
}

export const E164_HINT = 'write it in E.164: + and the country code, e.g. +15550123';
