/**
 * Real telephony failures, one named test each, on the real stack: the caller hangs up while the
 * agent is speaking, the line stays silent, the caller says something nobody can transcribe.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/call-records/index.js';
import { TECHNICAL_TROUBLE_APOLOGY } from '../../src/conversation/last-words.js';
import {
  GOODBYE_AFTER_SILENCE,
  NOT_UNDERSTOOD_APOLOGY,
  SILENCE_PROMPT,
} from '../../src/conversation/phrases.js';
import { waitForCallRecord } from '../support/call-records.js';
import { renderConversation } from '../support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import { expectCallCleanedUp, layout } from '../support/stack-env.js';

const SILENCE_TIMEOUT_MS = 3_000;
let line: PhoneLine;
let quietLine: PhoneLine;
let badLine: PhoneLine;
let media: string;

beforeAll(async () => {
  media = await mkdtemp(join(tmpdir(), 'sb-fail-'));
  line = await provisionLine('+15550111');
  quietLine = await provisionLine('+15550112', { silenceTimeoutMs: SILENCE_TIMEOUT_MS });
  // Set on the server directly, past sip-dispatch's validation: a typo in an option's name.
  badLine = await provisionLine('+15550113', { maxCallDurationMS: 60_000 });
});

afterAll(async () => {
  await line.release();
  await quietLine.release();
  await badLine.release();
});

describe('call failures', () => {
  it('caller hangs up while the agent is speaking: the call ends cleanly, recorded as a caller hang-up', async () => {
    const caller = '+15557650021';
    const meter = new RtpMeter(layout.serviceIp, 24300);
    await meter.start();
    // The greeting lasts about six seconds; the caller leaves two seconds after the answer.
    const result = await runSippCaller(
      sippCall(line.number, caller, await writeSilenceUlaw(media), {
        recordPort: 24300,
        holdMs: 2_000,
      }),
    ).finally(() => meter.close());
    expect(result.hangup).toBe('local');
    expect(meter.report().loudPackets).toBeGreaterThan(10); // the agent was speaking when the caller left

    const record = await waitForCallRecord(
      'the abandoned call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.outcome).toBe('caller_hung_up');
    expect(
      Date.parse(record.endedAt) - Date.parse(record.answeredAt ?? record.startedAt),
    ).toBeLessThan(5_000);
    await expectCallCleanedUp(caller);
  });

  it('a line whose options do not validate: the call is refused with the apology and BYE, recorded as failed', async () => {
    const caller = '+15557650024';
    const meter = new RtpMeter(layout.serviceIp, 24302);
    await meter.start();
    const result = await runSippCaller(
      sippCall(badLine.number, caller, await writeSilenceUlaw(media), {
        recordPort: 24302,
        holdMs: 30_000,
      }),
    ).finally(() => meter.close());
    // Not run with the agent's defaults (no time limit, no transfers): refused, audibly.
    expect(result.hangup).toBe('remote');
    expect(meter.report().loudPackets).toBeGreaterThan(25);
    const record = await waitForCallRecord(
      'the refused call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.outcome).toBe('failed');
    expect(record.endReason).toBe("the line's dispatch metadata is invalid");
    expect(record.turns.map((t) => t.text)).toEqual([TECHNICAL_TROUBLE_APOLOGY]);
    await expectCallCleanedUp(caller);
  });

  it('silence until the timeout: the agent prompts once, then says goodbye and hangs up (BYE to the caller)', async () => {
    const caller = '+15557650022';
    const result = await runSippCaller(
      sippCall(quietLine.number, caller, await writeSilenceUlaw(media), { holdMs: 60_000 }),
    );
    expect(result.hangup).toBe('remote');

    const record = await waitForCallRecord(
      'the silent call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.outcome).toBe('agent_ended');
    expect(record.endReason).toBe('the caller was silent');
    expect(
      record.turns
        .filter((t) => t.role === 'agent')
        .map((t) => t.text)
        .slice(1),
    ).toEqual([SILENCE_PROMPT, GOODBYE_AFTER_SILENCE]);
    expect(record.turns.some((t) => t.role === 'caller')).toBe(false);
    await expectCallCleanedUp(caller);
  });

  it('unintelligible speech: the caller hears an apology instead of silence, and the call goes on', async () => {
    const audio = await renderConversation(
      await mkdtemp(join(tmpdir(), 'sb-unint-')),
      [{ atSeconds: 9, text: 'blorf snig' }],
      60,
    );
    // The premise is a transcript with no words. The offline recognizer decodes against a grammar
    // and, on some runs, fits the nonsense to a phrase of it (1 in 13 recorded runs heard "what
    // is"): then the premise did not hold and the call is placed once more, from another number.
    let caller = '';
    let record: CallRecord | undefined;
    for (const number of ['+15557650023', '+15557650029']) {
      caller = number;
      const result = await runSippCaller(
        sippCall(line.number, caller, audio.ulaw, { holdMs: 20_000 }),
      );
      expect(result.hangup).toBe('local');
      record = await waitForCallRecord(
        'the unintelligible call',
        (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
      );
      if (!record.turns.some((t) => t.role === 'caller' && t.text !== '')) break;
    }
    if (record === undefined) throw new Error('no call was placed');
    expect(record.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toContain(
      NOT_UNDERSTOOD_APOLOGY,
    );
    expect(record.turns.filter((t) => t.role === 'caller' && t.text !== '')).toEqual([]);
    expect(record.outcome).toBe('caller_hung_up');
    await expectCallCleanedUp(caller);
  });
});
