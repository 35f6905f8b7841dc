/**
 * REFER targets as livekit-sip accepts them: `sip:`/`sips:` URIs, or `tel:` with a number. A bare
 * E.164 number becomes `tel:+…`. The value is never put into the error: it may be a phone number.
 */
export function referTarget(destination: string): string {
  const d = destination.trim();
  if (/^(sips?:|tel:)/i.test(d)) return d;
  if (/^\+?[0-9]{3,15}$/.test(d)) return `tel:${d.startsWith('+') ? d : `+${d}`}`;
  throw new RangeError('a transfer target must be a sip:, sips: or tel: URI or a phone number');
}
