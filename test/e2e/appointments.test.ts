/**
 * A second agent built on the call API (agents/appointments.ts): its own worker, registered under
 * its own name, reached by a phone line whose dispatch rule names it and by the browser page
 * asking for it. Greeting, one tool call with its record annotation, goodbye and hang-up.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CallRecord } from '../../src/call-records/index.js';
import { activeJobs, startAgentWorker, type AgentWorker } from '../support/agent-worker.js';
import { waitForCallRecord } from '../support/call-records.js';
import { launchChromium } from '../support/chromium.js';
import { renderConversation, type ScriptedLine } from '../support/conversation-audio.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { parseSippTrace, runSippCaller } from '../support/sipp.js';
import { eventually, layout, roomClient } from '../support/stack-env.js';

const LINE = '+15550120';
const HTTP_PORT = 8095;
const SCRIPT: ScriptedLine[] = [
  { atSeconds: 9, text: 'book an appointment for tomorrow morning' },
  { atSeconds: 26, text: 'goodbye' },
];

let worker: AgentWorker | undefined;
let line: PhoneLine | undefined;
let audio: { ulaw: string; wav: string };

beforeAll(async () => {
  audio = await renderConversation(await mkdtemp(join(tmpdir(), 'sb-appt-')), SCRIPT, 70);
  worker = await startAgentWorker({
    agent: 'appointments',
    httpPort: HTTP_PORT,
    // The shared folder, so waitForCallRecord sees this worker's records too.
    env: { CALL_RECORDS_DIR: inject('recordsDir') },
    logFile: join(process.cwd(), '.stack', 'logs', 'agent-appointments-test.log'),
  });
  line = await provisionLine(LINE, undefined, 'appointments');
}, 120_000);

afterAll(async () => {
  await line?.release();
  await worker?.stop();
});

function expectBooked(record: CallRecord): void {
  expect(record.agentName).toBe('appointments');
  expect(record.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
    'book an appointment for tomorrow morning',
    'goodbye',
  ]);
  expect(record.turns[0]).toMatchObject({
    role: 'agent',
    text: 'Hello, this is the clinic appointment line. When would you like to come in?',
  });
  expect(record.toolCalls.map((c) => [c.name, c.isError])).toEqual([
    ['book_appointment', false],
    ['end_call', false],
  ]);
  const booking = JSON.parse(record.toolCalls[0]?.output ?? '{}') as { reference?: string };
  expect(booking).toMatchObject({ booked: true, day: 'tomorrow', time: 'morning' });
  expect(record.annotations).toEqual({
    appointmentDay: 'tomorrow',
    appointmentTime: 'morning',
    appointmentReference: booking.reference,
  });
  // The reference is read back to the caller, letter by letter.
  const spelt = (booking.reference ?? '').split('').join(' ');
  expect(record.turns.some((t) => t.role === 'agent' && t.text.includes(spelt))).toBe(true);
  expect(record.outcome).toBe('completed');
}

describe('the appointment line: a second agent on the call API', () => {
  it('from a phone: greeting, a booking by tool call, the record, and BYE on goodbye', async () => {
    const caller = '+15557650120';
    const call = sippCall(LINE, caller, audio.ulaw, { holdMs: 60_000 });
    const meter = new RtpMeter(layout.serviceIp, call.recordPort);
    await meter.start();
    const result = await runSippCaller(call).finally(() => meter.close());
    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('remote');
    expect(
      parseSippTrace(result.messages).some(
        (m) => m.direction === 'received' && m.startLine.startsWith('BYE '),
      ),
    ).toBe(true);
    // Greeting, booking confirmation and goodbye: several seconds of speech at the caller.
    expect(meter.report().loudPackets).toBeGreaterThan(300);
    const record = await waitForCallRecord(
      'the appointment phone call',
      (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
    );
    expectBooked(record);
    await eventually('the appointment job to end', async () => (await activeJobs(HTTP_PORT)) === 0);
    expect((await roomClient().listRooms()).filter((r) => r.name === record.room)).toEqual([]);
  });

  it('from a browser asking the page for the appointment agent: the same booking', async () => {
    const browser = await launchChromium(audio.wav);
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${layout.ports.web}/?agent=appointments`);
      await page.click('#call');
      await page.waitForFunction(() => window.switchboard.phase === 'ended', undefined, {
        timeout: 70_000,
      });
      const state = await page.evaluate(() => window.switchboard);
      expect(state.agentAudio.loudFrames).toBeGreaterThan(20);
      const record = await waitForCallRecord(
        'the appointment browser call',
        (r) => r.room === state.roomName,
      );
      expect(record.caller.channel).toBe('web');
      expectBooked(record);
    } finally {
      await browser.close();
    }
    await eventually('the appointment job to end', async () => (await activeJobs(HTTP_PORT)) === 0);
  });

  it('the page refuses an agent it does not offer, naming the ones it does', async () => {
    const res = await fetch(`http://${layout.serviceIp}:${layout.ports.web}/api/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ room_config: { agents: [{ agent_name: 'billing' }] } }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /"billing" is not offered here; ask for one of switchboard, appointments/,
    );
  });
});
