/**
 * The SIP API takes durations in whole seconds; this package keeps milliseconds everywhere else.
 * Rounds up, so a timeout is never shorter than asked, and never below one second (0 means "the
 * server's default" in the API).
 */
export function toSipSeconds(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a duration in ms: ${ms}`);
  return Math.max(1, Math.ceil(ms / 1000));
}
