/**
 * DTMF: a SIP caller types an account number as RFC 4733 telephone-events (SIPp replays its own
 * recordings of each key, PT 101); the agent's collector reads it and the call record shows it.
 * A browser user, who has no keypad, is asked to say it instead.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_NUMBER_PROMPT } from '../../agents/receptionist.js';
import { waitForCallRecord } from '../support/call-records.js';
import { launchChromium } from '../support/chromium.js';
import { renderConversation } from '../support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { dtmfSteps, runSippCaller } from '../support/sipp.js';
import { agentActiveJobs, eventually, expectCallCleanedUp, layout } from '../support/stack-env.js';

let line: PhoneLine;
let audio: { ulaw: string; wav: string };

beforeAll(async () => {
  line = await provisionLine('+15550121');
  audio = await renderConversation(
    await mkdtemp(join(tmpdir(), 'sb-dtmf-')),
    [{ atSeconds: 9, text: 'my account number' }],
    90,
  );
});

afterAll(async () => {
  await line.release();
});

describe('DTMF', () => {
  it('a SIP caller types the account number ending with #; the agent reads it back and the record shows it', async () => {
    const caller = '+15557650031';
    const result = await runSippCaller(
      sippCall(line.number, caller, audio.ulaw, {
        // After the prompt that follows "my account number" (said 9 s after the answer).
        afterAnswer: dtmfSteps('4321#', 18_000),
        holdMs: 12_000,
      }),
    );
    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('local');

    const record = await waitForCallRecord(
      'the DTMF call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    const call = record.toolCalls.find((c) => c.name === 'collect_account_number');
    expect(call?.output).toBe(JSON.stringify({ digits: '4321' }));
    const agentSaid = record.turns.filter((t) => t.role === 'agent').map((t) => t.text);
    expect(agentSaid).toContain(ACCOUNT_NUMBER_PROMPT);
    expect(agentSaid).toContain('Thank you. I have your account number: 4 3 2 1.');
    await expectCallCleanedUp(caller);
  });

  it('DTMF out: asked to send tones, the agent sends RFC 4733 telephone-events to the caller', async () => {
    const caller = '+15557650032';
    const tones = await renderConversation(
      await mkdtemp(join(tmpdir(), 'sb-tones-')),
      [{ atSeconds: 9, text: 'press one two three on the keypad' }],
      60,
    );
    const meter = new RtpMeter(layout.serviceIp, 24500);
    await meter.start();
    const result = await runSippCaller(
      sippCall(line.number, caller, tones.ulaw, { recordPort: 24500, holdMs: 25_000 }),
    ).finally(() => meter.close());
    expect(result.hangup).toBe('local');
    // Three keys, each several telephone-event packets (PT 101), on the caller's RTP stream.
    expect(meter.report().payloadTypes).toContain(101);
    expect(meter.report().dtmfPackets).toBeGreaterThanOrEqual(3);
    const record = await waitForCallRecord(
      'the tones call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expect(record.toolCalls.find((c) => c.name === 'send_dtmf_events')?.arguments).toContain(
      '"1","2","3"',
    );
    expect(record.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toContain(
      'I have sent the tones.',
    );
    await expectCallCleanedUp(caller);
  });

  it('a browser user asked for the account number is asked to say it instead', async () => {
    const browser = await launchChromium(audio.wav);
    let roomName = '';
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${layout.ports.web}/`);
      await page.click('#call');
      await page.waitForFunction(() => window.switchboard.phase === 'connected', undefined, {
        timeout: 30_000,
      });
      roomName = await page.evaluate(() => window.switchboard.roomName ?? '');
      await page.waitForTimeout(20_000); // "my account number" at 9 s, then the reply
      await page.click('#hangup');
    } finally {
      await browser.close();
    }
    const record = await waitForCallRecord('the browser DTMF call', (r) => r.room === roomName);
    expect(record.toolCalls.find((c) => c.name === 'collect_account_number')?.output).toContain(
      'no_keypad',
    );
    const agentSaid = record.turns.filter((t) => t.role === 'agent').map((t) => t.text);
    expect(agentSaid).toContain('Please say your account number instead.');
    expect(agentSaid).not.toContain(ACCOUNT_NUMBER_PROMPT);
    await eventually('the agent job to end', async () => (await agentActiveJobs()) === 0);
  });
});
