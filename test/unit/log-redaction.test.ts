import { initializeLogger, log } from '@livekit/agents';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  redactFrameworkLogs,
  redactLogger,
  redactLogLine,
  redactPhoneNumbers,
} from '../../src/worker/index.js';

describe('redactPhoneNumbers', () => {
  it.each([
    ['a SIP participant identity', 'sip_+15551234567', 'sip_+***67'],
    ['an identity without the plus', 'sip_15551234567', 'sip_***67'],
    ['a room name with the number inside', 'e2e-call-_+15557650024_abc', 'e2e-call-_+***24_abc'],
    ['a SIP URI', 'sip:+15550123@host', 'sip:+***23@host'],
    ['a SIP URI without the plus', 'sip:5550123@10.77.0.2:5060', 'sip:***23@10.77.0.2:5060'],
    ['a tel URI', 'tel:+442071838750', 'tel:+***50'],
    ['a written international number', 'call +1 (555) 123-4567 now', 'call +***67 now'],
    ['two numbers', 'from +15550100 to +15557650305', 'from +***00 to +***05'],
    ['a number longer than E.164', '+123456789012345678', '+***78'],
  ])('redacts %s', (_name, input, expected) => expect(redactPhoneNumbers(input)).toBe(expected));

  it.each([
    ['a job ID', 'AJ_abc123'],
    ['a job ID with a long digit run inside', 'AJ_x1234567y'],
    ['a room SID', 'RM_7fGh2kLm9QxZ'],
    ['a host and port', '10.77.0.2:5060'],
    ['a duration', '1500 ms'],
    ['a short number', 'extension 123456'],
    ['a date and time', '2026-11-22T10:15:30.123Z'],
    ['a UUID made of digits', '12345678-1234-4234-8234-123456789012'],
    ['a version', '1.9.0'],
    ['plain words', 'the caller hung up'],
  ])('leaves %s alone', (_name, input) => expect(redactPhoneNumbers(input)).toBe(input));
});

describe('redactLogLine', () => {
  const line = (obj: object) => `${JSON.stringify(obj)}\n`;

  it.each([
    [
      'the framework fields of a job line',
      { level: 30, participant: 'sip_+15551234567', room: 'call-_+15557650024_x', msg: 'ok' },
      { level: 30, participant: 'sip_+***67', room: 'call-_+***24_x', msg: 'ok' },
    ],
    [
      'nested objects and arrays',
      { a: { b: [{ identity: 'sip_+15551234567' }, 'sip:+15550123@host'] } },
      { a: { b: [{ identity: 'sip_+***67' }, 'sip:+***23@host'] } },
    ],
    [
      'the message and an error stack',
      {
        msg: 'no room sip_+15551234567',
        err: { stack: 'Error: room call-_+15557650024_x\n    at f (a.js:12:3)' },
      },
      {
        msg: 'no room sip_+***67',
        err: { stack: 'Error: room call-_+***24_x\n    at f (a.js:12:3)' },
      },
    ],
    [
      'a field named __proto__',
      JSON.parse('{"__proto__":{"identity":"sip_+15551234567"}}') as object,
      JSON.parse('{"__proto__":{"identity":"sip_+***67"}}') as object,
    ],
    [
      'a key that is a number',
      { participants: { 'sip_+15551234567': 'joined' } },
      { participants: { 'sip_+***67': 'joined' } },
    ],
    [
      'not the designated PII keys, at any depth',
      {
        'lk.pii.participant_identity': 'sip_+15551234567',
        nested: { 'lk.pii.transcript': { said: 'my number is 5551234567' }, other: '5551234567' },
      },
      {
        'lk.pii.participant_identity': 'sip_+15551234567',
        nested: { 'lk.pii.transcript': { said: 'my number is 5551234567' }, other: '***67' },
      },
    ],
  ])('redacts %s', (_name, input, expected) => {
    const out = redactLogLine(line(input));
    expect(out.endsWith('\n')).toBe(true);
    expect(JSON.parse(out)).toEqual(expected);
  });

  it.each([
    [
      'numbers: time, ports, durations, pids',
      {
        level: 30,
        time: 1_764_000_000_000,
        port: 5060,
        durationMs: 12_345_678,
        pid: 4_194_304,
        bytes: 15_551_234_567,
      },
    ],
    [
      'job and room IDs',
      { jobID: 'AJ_abc123', room_id: 'RM_7fGh2kLm9QxZ', jobId: 'AJ_x1234567y', msg: 'job started' },
    ],
  ])('returns a line with %s as it came', (_name, input) => {
    const text = line(input);
    expect(redactLogLine(text)).toBe(text);
  });

  it('redacts a line that is not JSON as text', () =>
    expect(redactLogLine('INFO participant sip_+15551234567 joined\n')).toBe(
      'INFO participant sip_+***67 joined\n',
    ));
});

describe('the framework logger', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function captureStdout(): string[] {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    return lines;
  }

  it('every line, of children made before and after, is redacted at the destination', () => {
    initializeLogger({ pretty: false, level: 'info' });
    // As in a job process: the framework makes its child before prewarm installs redaction.
    const earlier = log().child({ pid: 1234, room: 'call-_+15557650024_abc' });
    expect(redactFrameworkLogs()).toBe(true);
    expect(redactFrameworkLogs()).toBe(true); // idempotent: installed once
    const later = log().child({ jobID: 'AJ_abc123', participant: 'sip_+15551234567' });
    const lines = captureStdout();

    earlier.info({ identity: 'sip_+15551234567', port: 5060 }, 'participant joined');
    later.warn({ uri: 'sip:+15550123@host', 'lk.pii.transcript': 'call me on 5551234567' }, 'x');
    later.debug({ identity: 'sip_+15551234567' }, 'below the level');

    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({
      pid: 1234,
      room: 'call-_+***24_abc',
      identity: 'sip_+***67',
      port: 5060,
      msg: 'participant joined',
      level: 30,
    });
    expect(second).toMatchObject({
      jobID: 'AJ_abc123',
      participant: 'sip_+***67',
      uri: 'sip:+***23@host',
      'lk.pii.transcript': 'call me on 5551234567',
      level: 40,
    });
    expect(typeof first!.time).toBe('number');
  });

  it('is not installed on something that is not a pino logger', () => {
    expect(redactLogger({ info: () => undefined })).toBe(false);
  });
});
