/**
 * Phone calls end to end: SIPp dials livekit-sip with G.711, the dispatch rule puts the
 * receptionist in the room, and the caller's RTP is measured. Runs against the real stack.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCallRecords, waitForCallRecord } from '../support/call-records.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { parseSippTrace, runSippCaller, writeSilenceUlaw, type SippCall } from '../support/sipp.js';
import { agentActiveJobs, expectCallCleanedUp, layout, roomClient } from '../support/stack-env.js';

const LINE = '+15550101';
const LINE_WITH_TIME_LIMIT = '+15550102';
const UNPROVISIONED_LINE = '+15550199';
const TIME_LIMIT_MS = 9_000;

let silence: string;
let line: PhoneLine;
let timedLine: PhoneLine;

const call = (called: string, caller: string, overrides: Partial<SippCall> = {}) =>
  sippCall(called, caller, silence, overrides);

async function roomsOf(callerNumber: string): Promise<string[]> {
  return (await roomClient().listRooms())
    .map((r) => r.name)
    .filter((name) => name.includes(callerNumber));
}

beforeAll(async () => {
  silence = await writeSilenceUlaw(await mkdtemp(join(tmpdir(), 'sb-media-')));
  line = await provisionLine(LINE);
  // This line's trunk maps the X- header to a plain attribute (headers_to_attributes), the way
  // carriers' headers are usually mapped, instead of including sip.h.* attributes.
  timedLine = await provisionLine(
    LINE_WITH_TIME_LIMIT,
    { maxCallDurationMs: TIME_LIMIT_MS },
    undefined,
    { 'X-Customer-Tier': 'customer.tier' },
  );
});

afterAll(async () => {
  await line.release();
  await timedLine.release();
});

describe('a phone call to the agent', () => {
  it('is answered, the caller hears the greeting as non-silent RTP, the agent sees the sip.* attributes, and the caller hangs up', async () => {
    const caller = '+15557650001';
    const meter = new RtpMeter(layout.serviceIp, 24100);
    await meter.start();
    const result = await runSippCaller(
      call(LINE, caller, { recordPort: 24100, holdMs: 10_000 }),
    ).finally(() => meter.close());
    const audio = meter.report();

    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('local');
    const sent = parseSippTrace(result.messages).filter((m) => m.direction === 'sent');
    expect(sent.some((m) => m.startLine.startsWith('BYE sip:'))).toBe(true);
    // G.711 µ-law decoded: the greeting is speech, not silence or comfort noise.
    expect(audio.payloadTypes).toContain(0);
    expect(audio.loudPackets).toBeGreaterThan(50); // > 1 s of audible 20 ms packets
    expect(audio.rms).toBeGreaterThan(300);

    const record = await waitForCallRecord(
      'the first call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.caller).toMatchObject({
      channel: 'phone',
      direction: 'inbound',
      callerNumber: caller,
      calledNumber: LINE,
      trunkId: line.trunkId,
      dispatchRuleId: line.ruleId,
    });
    expect(record.caller.channel === 'phone' && record.caller.sipCallId).toMatch(/^SCL_/);
    // An X- header of the INVITE, which the trunk maps to a sip.h.* attribute. (Here the agent joins
    // after livekit-sip has set it; the late-attribute path itself is covered by test/unit/caller.test.ts.)
    expect(record.caller.channel === 'phone' && record.caller.sipHeaders).toMatchObject({
      'x-customer-tier': 'gold',
    });
    expect(record.outcome).toBe('caller_hung_up');
    expect(record.answeredAt).toBeDefined();
    expect(record.turns.find((t) => t.role === 'agent')?.text).toMatch(/thank you for calling/);

    await expectCallCleanedUp(caller);
  });

  it('is ended by the agent at the time limit: the caller receives BYE after a spoken goodbye', async () => {
    const caller = '+15557650002';
    const meter = new RtpMeter(layout.serviceIp, 24102);
    await meter.start();
    const result = await runSippCaller(
      call(LINE_WITH_TIME_LIMIT, caller, { recordPort: 24102, holdMs: 60_000 }),
    ).finally(() => meter.close());

    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('remote');
    const received = parseSippTrace(result.messages).filter((m) => m.direction === 'received');
    expect(received.some((m) => m.startLine.startsWith('BYE sip:'))).toBe(true);
    expect(meter.report().loudPackets).toBeGreaterThan(100); // greeting and goodbye

    const record = await waitForCallRecord(
      'the time-limited call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.outcome).toBe('agent_ended');
    expect(record.endReason).toMatch(/time limit/);
    // The trunk's headers_to_attributes reach the caller model as SIP headers.
    expect(record.caller.channel === 'phone' && record.caller.sipHeaders).toEqual({
      'x-customer-tier': 'gold',
    });
    expect(
      record.turns
        .filter((t) => t.role === 'agent')
        .map((t) => t.text)
        .join(' '),
    ).toMatch(/goodbye/);
    const callMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    expect(callMs).toBeGreaterThanOrEqual(TIME_LIMIT_MS);

    await expectCallCleanedUp(caller);
  });

  it('to a number with no trunk or dispatch rule is never answered, and leaves no room and no agent job', async () => {
    const caller = '+15557650003';
    const recordsBefore = (await allCallRecords()).length;
    const result = await runSippCaller(
      call(UNPROVISIONED_LINE, caller, { answerTimeoutMs: 8_000 }),
    );

    expect(result.answered).toBe(false);
    expect(result.log).toContain('RESULT=unanswered');
    const responses = parseSippTrace(result.messages)
      .filter((m) => m.direction === 'received')
      .map((m) => m.startLine);
    expect(responses.some((l) => l.startsWith('SIP/2.0 100'))).toBe(true); // it reached livekit-sip
    expect(responses.filter((l) => /^SIP\/2\.0 [2-6]\d\d/.test(l))).toEqual([]); // and got no final answer
    expect(await roomsOf(caller)).toEqual([]);
    expect(await agentActiveJobs()).toBe(0);
    expect((await allCallRecords()).length).toBe(recordsBefore);
  });
});
