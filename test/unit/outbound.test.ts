import { describe, expect, it } from 'vitest';
import { callOptionsIssues, CallOptionsSchema } from '../../src/dispatch/index.js';
import { BeepDetector } from '../../src/outbound/beep-detector.js';
import { CALLEE_IDENTITY, dialCallee, type CalleePorts } from '../../src/outbound/callee.js';
import { OutboundOptionsSchema, type OutboundOptions } from '../../src/outbound/options.js';
import { outcomeIn, withOutcome } from '../../src/outbound/outcome-report.js';
import { dialOutcome } from '../../src/outbound/outcome.js';

/** livekit-sip's error for a failed INVITE, as the server SDK throws it. */
function inviteFailed(status: number, code: string) {
  return Object.assign(new Error(`twirp error unknown: INVITE failed: sip status: ${status}: x`), {
    code,
  });
}

describe('the outcome of dialling a number', () => {
  it.each([
    [486, 'resource_exhausted', 'busy'],
    [600, 'resource_exhausted', 'busy'],
    [480, 'resource_exhausted', 'no_answer'],
    [408, 'deadline_exceeded', 'no_answer'],
    [487, 'canceled', 'no_answer'],
    [603, 'permission_denied', 'declined'],
    [403, 'permission_denied', 'declined'],
    [404, 'not_found', 'failed'],
    [503, 'failed_precondition', 'failed'],
    [500, 'failed_precondition', 'failed'],
  ])('SIP %i (%s) is %s, with the status kept', (status, code, result) => {
    const outcome = dialOutcome(inviteFailed(status, code), 1200);
    expect(outcome).toMatchObject({ result, sipStatus: status, ringingMs: 1200 });
    expect(outcome.detail).toContain(`SIP ${status}`);
  });

  it.each([
    [
      'a ringing timeout (canceled, no status)',
      Object.assign(new Error('sip request timed out'), { code: 'canceled' }),
      'no_answer',
    ],
    [
      'a client-side timeout',
      Object.assign(new Error('aborted'), { name: 'TimeoutError' }),
      'no_answer',
    ],
    ['anything else', new Error('connection refused'), 'failed'],
  ])('%s is %s', (_what, err, result) => {
    expect(dialOutcome(err)).toMatchObject({ result });
    expect(dialOutcome(err).sipStatus).toBeUndefined();
  });
});

describe('the outcome in the room metadata', () => {
  it('round-trips and keeps the room metadata of others', () => {
    const meta = withOutcome('{"campaign":"spring"}', {
      result: 'busy',
      sipStatus: 486,
      detail: 'the line was busy (SIP 486)',
      ringingMs: 900,
    });
    expect(JSON.parse(meta)).toMatchObject({ campaign: 'spring' });
    expect(outcomeIn(meta)).toEqual({
      result: 'busy',
      sipStatus: 486,
      detail: 'the line was busy (SIP 486)',
      ringingMs: 900,
    });
  });

  it.each([[''], ['not json'], ['{}'], ['{"switchboard.outbound":{"result":"maybe"}}']])(
    'reads no outcome from %j',
    (metadata) => expect(outcomeIn(metadata)).toBeUndefined(),
  );

  it('keeps plain-text metadata under its own key', () => {
    expect(JSON.parse(withOutcome('hello', { result: 'failed', detail: 'x' }))).toMatchObject({
      metadata: 'hello',
    });
  });
});

describe('outbound call options', () => {
  const base = { to: '+15550123456', trunk: 'carrier' };

  it('fills the defaults', () => {
    expect(OutboundOptionsSchema.parse(base)).toMatchObject({
      ringingTimeoutMs: 30_000,
      waitForCalleeMs: 3_000,
      answeringMachine: { enabled: true, onMachine: 'hang_up', beepTimeoutMs: 5_000 },
    });
  });

  it.each([
    ['a number without +', { ...base, to: '5550123456' }, ['outbound', 'to']],
    ['no trunk', { to: base.to }, ['outbound', 'trunk']],
    ['both trunk and trunkId', { ...base, trunkId: 'ST_1' }, ['outbound', 'trunk']],
    [
      'leave_message without a message',
      { ...base, answeringMachine: { onMachine: 'leave_message' } },
      ['outbound', 'answeringMachine', 'message'],
    ],
    [
      'a ringing timeout under 5 s',
      { ...base, ringingTimeoutMs: 10 },
      ['outbound', 'ringingTimeoutMs'],
    ],
    ['an unknown field', { ...base, ringTimeout: 5 }, ['outbound', 'ringTimeout']],
  ])('rejects %s, naming the field', (_what, outbound, path) => {
    const issues = callOptionsIssues({ outbound });
    expect(issues.map((i) => i.path)).toContainEqual(path);
  });

  it('is a call option', () => {
    expect(CallOptionsSchema.parse({ outbound: base }).outbound?.to).toBe(base.to);
  });
});

/** Ports whose dial answers, or fails with `err`, after `ringMs` of a controlled clock. */
function ports(opts: { err?: Error; trunks?: { sipTrunkId: string; name: string }[] }) {
  const dialled: unknown[] = [];
  const fake: CalleePorts = {
    outboundTrunks: () => Promise.resolve(opts.trunks ?? [{ sipTrunkId: 'ST_c', name: 'carrier' }]),
    dial: (r) => {
      dialled.push(r);
      return opts.err === undefined ? Promise.resolve() : Promise.reject(opts.err);
    },
    report: () => Promise.resolve(),
  };
  return { fake, dialled };
}

describe('dialling the callee from the job', () => {
  const options: OutboundOptions = OutboundOptionsSchema.parse({
    to: '+15550123456',
    trunk: 'carrier',
    from: '+15550000001',
  });
  const clock = () => {
    let t = 1_000;
    return () => (t += 750);
  };

  it('dials through the trunk of that name and reports the ringing time', async () => {
    const { fake, dialled } = ports({});
    expect(await dialCallee(fake, 'call-out-1', options, clock())).toEqual({
      result: 'answered',
      detail: 'answered',
      ringingMs: 750,
    });
    expect(dialled).toEqual([
      {
        trunkId: 'ST_c',
        to: '+15550123456',
        room: 'call-out-1',
        from: '+15550000001',
        ringingTimeoutMs: 30_000,
      },
    ]);
    expect(CALLEE_IDENTITY).not.toMatch(/\d{3}/);
  });

  it('486 busy is busy, with its status', async () => {
    const { fake } = ports({ err: inviteFailed(486, 'resource_exhausted') });
    expect(await dialCallee(fake, 'r', options, clock())).toMatchObject({
      result: 'busy',
      sipStatus: 486,
    });
  });

  it('a trunk that is not there fails without dialling, naming the fix', async () => {
    const { fake, dialled } = ports({ trunks: [] });
    const outcome = await dialCallee(fake, 'r', options, clock());
    expect(outcome.result).toBe('failed');
    expect(outcome.detail).toMatch(
      /no outbound trunk named "carrier".*outbound\.outboundTrunk|npm run sip/,
    );
    expect(dialled).toEqual([]);
  });
});

/** 16-bit samples of a sine at `hz`, `ms` long. */
function sine(hz: number, ms: number, rate: number, amplitude = 8_000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)),
  );
}

/** A vowel-like sound: a 120 Hz fundamental with its harmonics, as in speech. */
function voiced(ms: number, rate: number): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 25; h++)
      v += (3_000 / h) * Math.sin((2 * Math.PI * 120 * h * i) / rate + h);
    return Math.round(v);
  });
}

describe('the voicemail beep detector', () => {
  it.each([
    [440, 8_000],
    [1_000, 16_000],
    [1_400, 48_000],
  ])('finds a %i Hz beep at %i Hz after speech, at its start', (hz, rate) => {
    const d = new BeepDetector(rate);
    expect(d.push(voiced(1_000, rate))).toBeUndefined();
    const beep = d.push(sine(hz, 400, rate));
    expect(beep).toBeDefined();
    expect(Math.abs((beep?.frequencyHz ?? 0) - hz)).toBeLessThanOrEqual(25);
    expect(beep?.startMs).toBeGreaterThanOrEqual(980);
    expect(beep?.startMs).toBeLessThanOrEqual(1_040);
    expect(d.sounding).toBe(true);
    d.push(voiced(100, rate));
    expect(d.sounding).toBe(false);
    expect(d.beeps).toHaveLength(1);
    expect(d.beeps[0]?.endMs).toBeGreaterThanOrEqual(1_380);
  });

  it('does not take speech, silence or a tone shorter than the minimum for a beep', () => {
    const d = new BeepDetector(16_000);
    expect(d.push(voiced(3_000, 16_000))).toBeUndefined();
    expect(d.push(new Int16Array(16_000))).toBeUndefined();
    expect(d.push(sine(1_000, 100, 16_000))).toBeUndefined();
    expect(d.push(voiced(500, 16_000))).toBeUndefined();
    expect(d.beeps).toEqual([]);
  });

  it('does not take a tone quieter than -40 dBFS for a beep', () => {
    const d = new BeepDetector(16_000);
    expect(d.push(sine(1_000, 500, 16_000, 200))).toBeUndefined();
  });
});
