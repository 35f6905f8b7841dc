/**
 * The SIPp trace reading the end-to-end tests judge calls by: a final refusal of the INVITE is a
 * call's outcome (retried by the fault tests), a failed BYE or a 200 is not.
 */
import { describe, expect, it } from 'vitest';
import { inviteRefusal, parseSippTrace } from '../support/sipp.js';

function block(at: string, direction: 'sent' | 'received', lines: string[]): string {
  const text = lines.join('\n');
  const size = Buffer.byteLength(text);
  const head =
    direction === 'sent'
      ? `UDP message sent (${size} bytes):`
      : `UDP message received [${size}] bytes :`;
  return `----------------------------------------------- 2026-11-30 ${at}\n${head}\n\n${text}\n\n`;
}

function response(status: string, cseq: string): string[] {
  return [
    `SIP/2.0 ${status}`,
    'Via: SIP/2.0/UDP 10.77.0.2:25063;branch=z9hG4bK-20650-1-0',
    'Call-ID: 1-20650@10.77.0.2',
    `CSeq: ${cseq}`,
    'Content-Length: 0',
  ];
}

const invite = block('07:25:39.238000', 'sent', [
  'INVITE sip:+15550132@10.77.0.2:5060 SIP/2.0',
  'Call-ID: 1-20650@10.77.0.2',
  'CSeq: 1 INVITE',
]);

describe('SIPp trace', () => {
  it('reads each message with its direction and start line', () => {
    const trace =
      invite +
      block('07:25:39.239464', 'received', response('100 Processing', '1 INVITE')) +
      block('07:25:40.239209', 'received', response('503 Try again later', '1 INVITE'));
    expect(parseSippTrace(trace).map((m) => [m.direction, m.startLine])).toEqual([
      ['sent', 'INVITE sip:+15550132@10.77.0.2:5060 SIP/2.0'],
      ['received', 'SIP/2.0 100 Processing'],
      ['received', 'SIP/2.0 503 Try again later'],
    ]);
  });

  it.each([
    [
      '503 while livekit-sip reconnects',
      ['100 Processing', '503 Try again later'],
      '1 INVITE',
      'SIP/2.0 503 Try again later',
    ],
    [
      '486 from a full worker',
      ['100 Processing', '180 Ringing', '486 Rejected'],
      '1 INVITE',
      'SIP/2.0 486 Rejected',
    ],
    ['a redirect', ['302 Moved Temporarily'], '1 INVITE', 'SIP/2.0 302 Moved Temporarily'],
    ['an answer', ['100 Processing', '180 Ringing', '200 OK'], '1 INVITE', undefined],
    ['only provisional responses', ['100 Processing', '180 Ringing'], '1 INVITE', undefined],
    ['a refused BYE, not the INVITE', ['481 Call Does Not Exist'], '2 BYE', undefined],
  ])('refusal of the INVITE: %s', (_case, statuses, cseq, expected) => {
    const trace =
      invite +
      statuses.map((s, i) => block(`07:25:4${i}.000000`, 'received', response(s, cseq))).join('');
    expect(inviteRefusal(parseSippTrace(trace))).toBe(expected);
  });
});
