/**
 * Calls the agent places (issue 14): `liveKitDialer` creates the room and dispatches the agent,
 * the agent dials the callee through an outbound trunk with CreateSIPParticipant, and livekit-sip
 * sends the INVITE to SIPp playing the callee. Asserted on the wire and in the records: the
 * callee's INVITE, the agent's audio energy at the callee, BYE, the outcome the dialer read from
 * the room, the call record, and that no room is left behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/call-records/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { liveKitDialer } from '../../src/outbound/livekit-dialer.js';
import type { OutboundOutcome } from '../../src/outbound/outcome.js';
import { waitForCallRecord } from '../support/call-records.js';
import { renderConversation } from '../support/conversation-audio.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { runSippHuman, type SippHuman } from '../support/sipp-human.js';
import {
  AGENT_NAME,
  agentActiveJobs,
  eventually,
  httpUrl,
  layout,
  roomClient,
  sipClient,
} from '../support/stack-env.js';
import { addBeep } from '../support/tones.js';

const TRUNK_NAME = 'e2e-callees';
const CALLEE_SIP_PORT = 5080;
/** The trunk's caller ID. */
const FROM_NUMBER = '+15550000077';
const MESSAGE = 'This is the clinic calling about your appointment tomorrow. Please call us back.';

let dir: string;
let trunkId = '';
const audio = { hello: '', voicemail: '' };
/** Seconds into the voicemail audio: the greeting's end, and the beep. */
let greetingEndS = 0;
const BEEP = { startS: 0, lengthS: 0.5, hz: 1000 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-outbound-'));
  // A person picks up and says "hello" a second later, as people do.
  audio.hello = (
    await renderConversation(
      await mkdtemp(join(dir, 'hello-')),
      [{ atSeconds: 1, text: 'hello' }],
      120,
    )
  ).ulaw;
  // A mailbox: a greeting of two sentences, then a beep half a second after it.
  const greeting = await renderConversation(
    await mkdtemp(join(dir, 'vm-')),
    [
      { atSeconds: 0.5, text: 'you have reached our voicemail' },
      { atSeconds: 2.8, text: 'please leave a message after the tone' },
    ],
    120,
  );
  greetingEndS = greeting.spoken.at(-1)?.endS ?? 0;
  BEEP.startS = greetingEndS + 0.5;
  audio.voicemail = await addBeep(greeting.ulaw, BEEP.startS, BEEP.lengthS, BEEP.hz);
  const trunk = await sipClient().createSipOutboundTrunk(
    TRUNK_NAME,
    `${layout.serviceIp}:${CALLEE_SIP_PORT}`,
    [FROM_NUMBER],
  );
  trunkId = trunk.sipTrunkId;
});

afterAll(async () => {
  if (trunkId !== '') await sipClient().deleteSipTrunk(trunkId);
  await rm(dir, { recursive: true, force: true });
});

const dialer = () =>
  liveKitDialer({ url: httpUrl, apiKey: LOCAL_API_KEY, apiSecret: LOCAL_API_SECRET });

let slot = 0;

/** One placed call: the callee (SIPp) waits on the trunk's address, the dialer places the call. */
async function placeCall(opts: {
  to: string;
  callee: Partial<SippHuman> & Pick<SippHuman, 'behaviour'>;
  callOptions?: Record<string, unknown>;
}): Promise<{
  outcome: OutboundOutcome;
  record: CallRecord;
  callee: Awaited<ReturnType<typeof runSippHuman>>;
  meter: RtpMeter;
  room: string;
}> {
  const n = slot++;
  const placedAt = Date.now();
  const meter = new RtpMeter(layout.serviceIp, 24900 + 2 * n);
  await meter.start();
  try {
    const calleeRun = runSippHuman({
      localIp: layout.serviceIp,
      sipPort: CALLEE_SIP_PORT,
      mediaPort: 23100 + 2 * n,
      recordPort: 24900 + 2 * n,
      mediaFile: audio.hello,
      ringMs: 500,
      timeoutMs: 60_000,
      ...opts.callee,
    });
    const call = await dialer().place({
      to: opts.to,
      agentName: AGENT_NAME,
      trunk: TRUNK_NAME,
      ...(opts.callOptions === undefined ? {} : { callOptions: opts.callOptions }),
    });
    const outcome = await call.outcome;
    const callee = await calleeRun;
    await call.ended;
    const record = await waitForCallRecord(
      'the placed call',
      (r) => r.outbound?.to === opts.to && Date.parse(r.startedAt) >= placedAt,
    );
    return { outcome, record, callee, meter, room: call.room };
  } finally {
    await meter.close();
  }
}

async function expectNothingLeft(room: string): Promise<void> {
  await eventually(
    'the call room to be gone',
    async () => (await roomClient().listRooms([room])).length === 0,
  );
  await eventually('the agent job to end', async () => (await agentActiveJobs()) === 0);
}

describe('calls the agent places', () => {
  it('a person answers and says "hello": the agent waits for them, answers back; record answered, outbound', async () => {
    const { outcome, record, callee, meter, room } = await placeCall({
      to: '+15550140001',
      callee: { behaviour: 'answer', hangUpAfterMs: 9_000 },
    });
    // The INVITE reached the callee for the number dialled, from the trunk's number.
    expect(callee.log).toMatch(/INVITE_RURI=INVITE sip:\+15550140001@/);
    expect(callee.log).toMatch(/INVITE_FROM=.*sip:\+15550000077@/);
    expect(outcome).toMatchObject({ result: 'answered' });
    expect(outcome.ringingMs).toBeGreaterThanOrEqual(400);
    // The agent's voice reached the callee, and only after they said hello (1 s into the call).
    const report = meter.report();
    expect(report.loudPackets).toBeGreaterThan(25);
    expect(report.firstPacketAt).toBeDefined();
    expect(report.firstLoudAt ?? 0).toBeGreaterThan((report.firstPacketAt ?? Infinity) + 1_000);
    expect(record).toMatchObject({
      outcome: 'caller_hung_up',
      caller: {
        channel: 'phone',
        direction: 'outbound',
        calledNumber: '+15550140001',
        callerNumber: FROM_NUMBER,
      },
      outbound: {
        to: '+15550140001',
        trunk: TRUNK_NAME,
        result: 'answered',
        answeringMachine: { category: 'human', isMachine: false },
      },
    });
    expect(record.outbound?.answeringMachine?.decidedAfterAnswerMs).toBeLessThan(5_000);
    expect(record.turns[0]).toMatchObject({
      role: 'caller',
      text: expect.stringMatching(/hello/i) as string,
    });
    expect(record.turns.find((t) => t.role === 'agent')?.text).toMatch(/opening hours/);
    await expectNothingLeft(room);
  });

  it('a mailbox answers and the line asks for a message: the message starts after the beep, then BYE', async () => {
    const { outcome, record, callee, meter, room } = await placeCall({
      to: '+15550140002',
      callee: { behaviour: 'answer', mediaFile: audio.voicemail },
      callOptions: {
        outbound: { answeringMachine: { onMachine: 'leave_message', message: MESSAGE } },
      },
    });
    expect(outcome).toMatchObject({ result: 'voicemail' });
    const report = meter.report();
    const mediaStart = report.firstPacketAt ?? Infinity;
    const beepEnd = mediaStart + (BEEP.startS + BEEP.lengthS) * 1000;
    // Agent audio at the mailbox: none before the beep ended (100 ms for jitter), then the message.
    expect(meter.loudTimestamps().filter((t) => t < beepEnd - 100)).toEqual([]);
    expect(meter.loudPacketsAfter(beepEnd)).toBeGreaterThan(100);
    // livekit-sip hung up once the message was spoken.
    expect(callee.hangup).toBe('remote');
    expect(record).toMatchObject({
      outcome: 'voicemail',
      endReason: expect.stringMatching(/left the message/) as string,
      outbound: {
        result: 'voicemail',
        answeringMachine: { category: 'machine-vm', isMachine: true },
        message: { afterBeep: true },
      },
    });
    expect(record.turns.filter((t) => t.role === 'agent').at(-1)?.text).toBe(MESSAGE);
    await expectNothingLeft(room);
  });

  it('a mailbox answers on a line without a message: the agent hangs up without a word', async () => {
    const { outcome, record, callee, meter, room } = await placeCall({
      to: '+15550140003',
      callee: { behaviour: 'answer', mediaFile: audio.voicemail },
    });
    expect(outcome).toMatchObject({ result: 'voicemail' });
    expect(callee.hangup).toBe('remote');
    expect(meter.report().loudPackets).toBe(0);
    expect(record).toMatchObject({
      outcome: 'voicemail',
      outbound: { result: 'voicemail', answeringMachine: { isMachine: true } },
    });
    expect(record.outbound?.message).toBeUndefined();
    await expectNothingLeft(room);
  });

  it.each([
    ['486 busy', 'busy', 'busy', 486, '+15550140004'],
    ['603 decline', 'decline', 'declined', 603, '+15550140005'],
  ] as const)(
    '%s: the outcome and the record say so, with the status; no room is left',
    async (_what, behaviour, result, sipStatus, to) => {
      const { outcome, record, callee, room } = await placeCall({ to, callee: { behaviour } });
      expect(callee.log).toContain(`RESULT=${result === 'busy' ? 'busy' : 'declined'}`);
      expect(outcome).toMatchObject({ result, sipStatus });
      expect(record).toMatchObject({
        outcome: result,
        caller: { direction: 'outbound', calledNumber: to },
        outbound: { result, sipStatus, trunk: TRUNK_NAME },
        turns: [],
      });
      await expectNothingLeft(room);
    },
  );

  it('no answer: livekit-sip CANCELs at the ringing timeout; the outcome is no_answer with the ringing time', async () => {
    const { outcome, record, callee, room } = await placeCall({
      to: '+15550140006',
      callee: { behaviour: 'no_answer' },
      callOptions: { outbound: { ringingTimeoutMs: 6_000 } },
    });
    expect(callee.log).toContain('RESULT=cancelled');
    expect(outcome).toMatchObject({ result: 'no_answer' });
    expect(outcome.ringingMs).toBeGreaterThanOrEqual(5_500);
    expect(outcome.ringingMs).toBeLessThan(12_000);
    expect(record).toMatchObject({ outcome: 'no_answer', outbound: { result: 'no_answer' } });
    await expectNothingLeft(room);
  });

  it('a trunk name that does not exist is refused before any room is created', async () => {
    const before = (await roomClient().listRooms()).length;
    await expect(
      dialer().place({ to: '+15550140007', agentName: AGENT_NAME, trunk: 'no-such-trunk' }),
    ).rejects.toMatchObject({
      code: 'outbound_trunk_missing',
      message: expect.stringMatching(/no outbound trunk named "no-such-trunk"/) as string,
    });
    await expect(
      dialer().place({ to: '555', agentName: AGENT_NAME, trunk: TRUNK_NAME }),
    ).rejects.toMatchObject({
      code: 'outbound_request_invalid',
      message: expect.stringMatching(/to: an E\.164 number/) as string,
    });
    expect((await roomClient().listRooms()).length).toBe(before);
  });
});
