/**
 * Normalises a number as LiveKit SIP reports it (the SIP URI user part) to E.164 where it looks
 * like one. Anything else (a SIP user name such as "alice") is returned trimmed, unchanged.
 */
export function normalizePhoneNumber(raw: string): string {
  const trimmed = raw.trim();
  const compact = trimmed.replace(/[\s().-]/g, '');
  const match = /^(\+|00)?(\d{6,15})$/.exec(compact);
  if (match?.[2] === undefined) return trimmed;
  return `+${match[2]}`;
}

/** For logs: keeps the last two digits, so lines can be told apart without exposing the number. */
export function maskPhoneNumber(number: string): string {
  return number.length <= 2
    ? '**'
    : `${'*'.repeat(Math.min(number.length - 2, 10))}${number.slice(-2)}`;
}
