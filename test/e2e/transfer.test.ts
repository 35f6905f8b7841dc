/**
 * Transfers on the real stack: SIPp is the caller (on a line whose dispatch metadata configures
 * the transfer) and the human (a UAS behind an outbound trunk). The caller asks for a person or
 * the front desk by voice (espeak-ng through the offline recognizer); the human answers, is
 * busy, never answers, declines, or hangs up, per test.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/call-records/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { createParticipantToken } from '../../src/tokens/index.js';
import {
  CALLER_LEFT_NOTICE,
  COLD_TRANSFER_ANNOUNCEMENT,
  TRANSFER_EXPLANATIONS,
  type TransferOptions,
} from '../../src/transfer/index.js';
import { waitForCallRecord } from '../support/call-records.js';
import { launchChromium } from '../support/chromium.js';
import { renderConversation } from '../support/conversation-audio.js';
import { provisionLine, sippCall } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { runSippHuman, type SippHuman } from '../support/sipp-human.js';
import { dtmfSteps, parseSippTrace, runSippCaller, type SippCall } from '../support/sipp.js';
import {
  AGENT_NAME,
  eventually,
  expectCallCleanedUp,
  layout,
  roomClient,
  sipClient,
} from '../support/stack-env.js';
import { addToneFrom, addToneToWav, writeToneUlaw } from '../support/tones.js';

const HUMAN_NUMBER = '+15550009999';
const HUMAN_SIP_PORT = 5070;
const HUMAN_REFER_URI = `sip:${HUMAN_NUMBER}@${layout.serviceIp}:${HUMAN_SIP_PORT}`;
const COLD_TARGET = 'tel:+15550001234';
/** The human's outbound trunk, named per run: the lines name it, the agent looks it up. */
const HUMAN_TRUNK_NAME = `e2e-human-desk-${process.pid}-${Date.now()}`;

let outboundTrunkId = '';
let dir = '';
const audio = {
  /** "connect me to an operator" at 9 s, then a 1 kHz tone from 30 s (what the human should hear once connected). */
  askForPerson: '',
  /** The same for a browser's microphone (48 kHz WAV). */
  askForPersonWav: '',
  /** "connect me to an operator" at 9 s, "goodbye" at 40 s. */
  askThenGoodbye: '',
  /** "please transfer my call to reception" at 9 s. */
  askForFrontDesk: '',
  /** The human's line: a steady 440 Hz tone. */
  humanTone: '',
  /** The human's answer to the briefing, by voice, 3 s after answering. */
  humanDeclines: '',
  /** An answering machine's greeting, 1 s after answering. */
  voicemail: '',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-transfer-'));
  const render = async (name: string, lines: { atSeconds: number; text: string }[]) =>
    (await renderConversation(await mkdtemp(join(dir, name)), lines, 120)).ulaw;
  const ask = await render('ask', [{ atSeconds: 9, text: 'connect me to an operator' }]);
  audio.askForPerson = await addToneFrom(ask, 30, 1000);
  const askWeb = await renderConversation(
    await mkdtemp(join(dir, 'ask-web')),
    [{ atSeconds: 9, text: 'connect me to an operator' }],
    120,
  );
  audio.askForPersonWav = await addToneToWav(askWeb.wav, 20, 1000);
  audio.askThenGoodbye = await render('ask-bye', [
    { atSeconds: 9, text: 'connect me to an operator' },
    { atSeconds: 40, text: 'goodbye' },
  ]);
  audio.askForFrontDesk = await render('desk', [
    { atSeconds: 9, text: 'please transfer my call to reception' },
  ]);
  audio.humanTone = await writeToneUlaw(dir, 440, 120);
  audio.humanDeclines = await render('human-no', [
    { atSeconds: 3, text: 'no i cannot take the call' },
  ]);
  audio.voicemail = await render('voicemail', [
    { atSeconds: 1, text: 'please leave a message after the tone' },
  ]);
  const trunk = await sipClient().createSipOutboundTrunk(
    HUMAN_TRUNK_NAME,
    `${layout.serviceIp}:${HUMAN_SIP_PORT}`,
    ['+15550000000'],
  );
  outboundTrunkId = trunk.sipTrunkId;
});

afterAll(async () => {
  if (outboundTrunkId !== '') await sipClient().deleteSipTrunk(outboundTrunkId);
});

function transferOptions(overrides: Partial<TransferOptions> = {}): object {
  return {
    transfer: {
      human: { number: HUMAN_NUMBER, outboundTrunk: HUMAN_TRUNK_NAME, referTo: HUMAN_REFER_URI },
      coldTarget: COLD_TARGET,
      ringingTimeoutMs: 20_000,
      ...overrides,
    },
  };
}

/**
 * livekit-sip v1.8.0 at times ends its REFER client transaction before it reads the caller's 202:
 * its log says "inbound call failed to transfer" with "transaction failed to complete (0
 * intermediate responses)" within 1 ms of sending REFER, and the caller's NOTIFY 200 arrives after
 * (seen once, in a CI run on a loaded machine; the REFER tests had passed in every run before).
 * The RPC then fails although the caller accepted (or refused: seen in a fresh-clone CI run on
 * 2026-11-29 for the 603 test, the same log line, the outcome `timed_out`). A test that reads the
 * caller's answer to the REFER gets one retry for that server race; every other assertion is
 * unchanged.
 */
const LIVEKIT_SIP_REFER_RACE = { retry: 1 };

let slot = 0;

/** One transfer call: the human waits on the trunk's address, the caller dials the line. */
async function transferCall(opts: {
  line: string;
  caller: string;
  lineOptions: object;
  callerAudio: string;
  call?: Partial<SippCall>;
  human?: Partial<SippHuman> & Pick<SippHuman, 'behaviour'>;
}) {
  const n = slot++;
  // Records of this attempt only (a retried test places the same call again).
  const placedAt = Date.now();
  const line = await provisionLine(opts.line, opts.lineOptions);
  const callerMeter = new RtpMeter(layout.serviceIp, 24600 + 2 * n);
  const humanMeter = new RtpMeter(layout.serviceIp, 24800 + 2 * n);
  await Promise.all([callerMeter.start(), humanMeter.start()]);
  try {
    const human =
      opts.human === undefined
        ? undefined
        : runSippHuman({
            localIp: layout.serviceIp,
            sipPort: HUMAN_SIP_PORT,
            mediaPort: 22800 + 2 * n,
            recordPort: 24800 + 2 * n,
            mediaFile: audio.humanTone,
            ringMs: 500,
            timeoutMs: 90_000,
            ...opts.human,
          });
    const caller = await runSippCaller(
      sippCall(opts.line, opts.caller, opts.callerAudio, {
        recordPort: 24600 + 2 * n,
        holdMs: 60_000,
        ...opts.call,
      }),
    );
    const humanResult = await human;
    const record = await waitForCallRecord(
      'the transferred call',
      (r) =>
        r.caller.channel === 'phone' &&
        r.caller.callerNumber === opts.caller &&
        Date.parse(r.startedAt) >= placedAt,
    );
    return { caller, human: humanResult, record, callerMeter, humanMeter };
  } finally {
    await Promise.all([callerMeter.close(), humanMeter.close(), line.release()]);
  }
}

/** performance.now() time of an ISO time from the record (both clocks of this machine). */
function perfTime(iso: string): number {
  return Date.parse(iso) - performance.timeOrigin;
}

function lastTransfer(r: CallRecord) {
  const t = r.transfers.at(-1);
  if (t === undefined) throw new Error('the record has no transfer');
  return t;
}

async function expectNoConsultRoom(): Promise<void> {
  expect((await roomClient().listRooms()).filter((r) => r.name.includes('-consult'))).toEqual([]);
}

describe('warm transfer to a human', () => {
  it(
    'caller accepts REFER: Refer-To is the human, NOTIFY 100 then 200, livekit-sip hangs up the caller',
    LIVEKIT_SIP_REFER_RACE,
    async () => {
      const { caller, human, record, callerMeter, humanMeter } = await transferCall({
        line: '+15550301',
        caller: '+15557650301',
        lineOptions: transferOptions({
          strategy: 'refer_first',
          human: {
            number: HUMAN_NUMBER,
            outboundTrunkId,
            referTo: HUMAN_REFER_URI,
            fromNumber: '+15550000042',
            dtmf: '5',
          },
        }),
        callerAudio: audio.askForPerson,
        call: { onRefer: 'accept' },
        human: { behaviour: 'answer', afterAnswer: dtmfSteps('1', 2000) },
      });
      expect(caller.answered).toBe(true);
      expect(caller.referTo).toBe(`<${HUMAN_REFER_URI}>`);
      const trace = parseSippTrace(caller.messages);
      const notifies = trace.filter(
        (m) => m.direction === 'sent' && m.startLine.startsWith('NOTIFY'),
      );
      expect(notifies.map((m) => /SIP\/2\.0 \d{3}[^\r\n]*$/.exec(m.text)?.[0])).toEqual([
        'SIP/2.0 100 Trying',
        'SIP/2.0 200 OK',
      ]);
      // After the final NOTIFY, livekit-sip ends the caller's leg itself.
      expect(caller.hangup).toBe('remote');
      // The consult leg: dialled with the caller ID asked for, the extension sent as RFC 4733
      // events after the answer, and hung up (BYE) once the REFER completed.
      expect(human?.log).toMatch(new RegExp(`INVITE_RURI=INVITE sip:\\${HUMAN_NUMBER}@`));
      expect(human?.log).toMatch(/INVITE_FROM=.*sip:\+15550000042@/);
      expect(humanMeter.report().dtmfPackets).toBeGreaterThan(0);
      expect(human?.answered).toBe(true);
      expect(human?.hangup).toBe('remote');

      expect(record.outcome).toBe('transferred');
      const t = lastTransfer(record);
      expect(t).toMatchObject({ kind: 'warm', status: 'completed', method: 'refer' });
      expect(t.handOffAttempts).toEqual([{ method: 'refer', status: 'completed' }]);
      expect(t.phases.ringMs).toBeGreaterThan(0);
      // On hold, the caller heard music, and nothing they said reached the agent.
      const acceptedAt = perfTime(t.acceptedAt ?? '');
      const heldFrom = perfTime(t.startedAt) + 1000;
      const musicPackets = callerMeter
        .loudTimestamps()
        .filter((x) => x > heldFrom && x < acceptedAt).length;
      expect(musicPackets).toBeGreaterThan(25);
      await expectCallCleanedUp(record.room);
      await expectNoConsultRoom();
    },
  );

  it(
    'caller refuses REFER with 603: the bridge connects caller and human, audio both ways',
    LIVEKIT_SIP_REFER_RACE,
    async () => {
      const { caller, human, record, callerMeter, humanMeter } = await transferCall({
        line: '+15550302',
        caller: '+15557650302',
        lineOptions: transferOptions({ strategy: 'refer_first' }),
        callerAudio: audio.askForPerson,
        call: { onRefer: 'decline', afterReferMs: 15_000 },
        human: { behaviour: 'answer', afterAnswer: dtmfSteps('1', 2000) },
      });
      expect(caller.answered).toBe(true);
      expect(caller.log).toContain('REFER=declined');
      expect(caller.hangup).toBe('local');
      expect(human?.hangup).toBe('remote');

      expect(record.outcome).toBe('transferred');
      const t = lastTransfer(record);
      expect(t).toMatchObject({ status: 'completed', method: 'bridge' });
      expect(t.handOffAttempts).toEqual([
        { method: 'refer', status: 'refused', sipStatus: 603 },
        { method: 'bridge', status: 'completed' },
      ]);
      // Once connected, the human's tone reaches the caller and the caller's tone the human.
      const connectedAt = perfTime(t.connectedAt ?? '') + 300;
      expect(callerMeter.loudPacketsAfter(connectedAt)).toBeGreaterThan(100);
      expect(humanMeter.loudPacketsAfter(connectedAt)).toBeGreaterThan(100);
      await expectCallCleanedUp(record.room);
      await expectNoConsultRoom();
    },
  );
});

describe('warm transfer failures: the caller comes back to the agent, off hold', () => {
  /** Back with the agent: the caller heard the explanation, then said goodbye and the agent hung up. */
  function expectBackWithAgent(record: CallRecord, explanation: string) {
    const after = record.turns.filter(
      (t) => Date.parse(t.at) >= Date.parse(lastTransfer(record).startedAt),
    );
    expect(after.map((t) => t.text)).toContain(explanation);
    expect(after.filter((t) => t.role === 'caller').map((t) => t.text)).toContain('goodbye');
    expect(record.outcome).toBe('completed');
  }

  it('human is busy (486): the caller hears so and carries on with the agent', async () => {
    const { caller, human, record } = await transferCall({
      line: '+15550303',
      caller: '+15557650303',
      lineOptions: transferOptions(),
      callerAudio: audio.askThenGoodbye,
      human: { behaviour: 'busy' },
    });
    expect(human?.log).toContain('RESULT=busy');
    expect(caller.hangup).toBe('remote');
    expect(lastTransfer(record)).toMatchObject({ status: 'busy', sipStatus: 486 });
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.busy);
    await expectCallCleanedUp(record.room);
    await expectNoConsultRoom();
  });

  it('the line names an outbound trunk the server does not have: nobody is dialled, the caller hears so', async () => {
    const { caller, record } = await transferCall({
      line: '+15550313',
      caller: '+15557650313',
      lineOptions: transferOptions({
        human: { number: HUMAN_NUMBER, outboundTrunk: `${HUMAN_TRUNK_NAME}-gone` },
      }),
      callerAudio: audio.askThenGoodbye,
    });
    expect(caller.hangup).toBe('remote');
    expect(lastTransfer(record)).toMatchObject({
      status: 'not_configured',
      detail: expect.stringMatching(/^no outbound trunk named ".*-gone" on the server/),
    });
    expect(lastTransfer(record).phases.ringMs).toBeLessThan(2_000);
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.not_configured);
    await expectCallCleanedUp(record.room);
    await expectNoConsultRoom();
  });

  it('human never answers: livekit-sip cancels at the ringing timeout', async () => {
    const { caller, human, record } = await transferCall({
      line: '+15550304',
      caller: '+15557650304',
      lineOptions: transferOptions({ ringingTimeoutMs: 5_000 }),
      callerAudio: audio.askThenGoodbye,
      human: { behaviour: 'no_answer' },
    });
    expect(human?.log).toContain('RESULT=cancelled');
    expect(caller.hangup).toBe('remote');
    const t = lastTransfer(record);
    expect(t.status).toBe('no_answer');
    expect(t.phases.ringMs).toBeGreaterThanOrEqual(5_000);
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.no_answer);
    await expectCallCleanedUp(record.room);
  });

  it('human declines by voice after the briefing', async () => {
    const { human, record } = await transferCall({
      line: '+15550305',
      caller: '+15557650305',
      lineOptions: transferOptions(),
      callerAudio: audio.askThenGoodbye,
      human: { behaviour: 'answer', mediaFile: audio.humanDeclines },
    });
    expect(human?.hangup).toBe('remote');
    const t = lastTransfer(record);
    expect(t.status).toBe('declined');
    expect(t.consult[0]?.text).toMatch(
      /^Hello, this is the switchboard assistant\. I have a caller on the phone on hold\./,
    );
    expect(t.consult.filter((c) => c.role === 'human').map((c) => c.text)).toContain(
      'no i cannot take the call',
    );
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.declined);
    await expectCallCleanedUp(record.room);
  });

  it('a voicemail answers: detected from its greeting, the caller hears so', async () => {
    const { human, record } = await transferCall({
      line: '+15550311',
      caller: '+15557650311',
      lineOptions: transferOptions(),
      callerAudio: audio.askThenGoodbye,
      human: { behaviour: 'answer', mediaFile: audio.voicemail },
    });
    expect(human?.hangup).toBe('remote');
    expect(lastTransfer(record).status).toBe('voicemail');
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.voicemail);
    await expectCallCleanedUp(record.room);
  });

  it('human hangs up during the briefing: the caller is taken off hold', async () => {
    const { human, record } = await transferCall({
      line: '+15550306',
      caller: '+15557650306',
      lineOptions: transferOptions(),
      callerAudio: audio.askThenGoodbye,
      human: { behaviour: 'answer', hangUpAfterMs: 2_000 },
    });
    expect(human?.hangup).toBe('local');
    expect(lastTransfer(record).status).toBe('human_hung_up');
    expectBackWithAgent(record, TRANSFER_EXPLANATIONS.human_hung_up);
    await expectCallCleanedUp(record.room);
  });

  it('caller hangs up during the briefing: the human is told, then hung up; nothing said on hold reached the agent', async () => {
    const { caller, human, record, humanMeter } = await transferCall({
      line: '+15550307',
      caller: '+15557650307',
      lineOptions: transferOptions(),
      callerAudio: audio.askThenGoodbye,
      // The caller says "goodbye" at 40 s, on hold, and hangs up at 44 s.
      call: { holdMs: 44_000 },
      human: { behaviour: 'answer' },
    });
    expect(caller.hangup).toBe('local');
    expect(human?.hangup).toBe('remote');
    expect(record.outcome).toBe('caller_hung_up');
    const t = lastTransfer(record);
    expect(t.status).toBe('caller_hung_up');
    // The agent's last words to the human are the notice. (The human's line plays a tone, which the
    // streaming recognizer may still turn into words after it: the human is not silenced.)
    expect(t.consult.filter((c) => c.role === 'agent').at(-1)).toEqual({
      role: 'agent',
      text: CALLER_LEFT_NOTICE,
    });
    expect(humanMeter.loudPacketsAfter(perfTime(record.endedAt) + 200)).toBeGreaterThan(50);
    expect(record.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'connect me to an operator',
    ]);
    await expectCallCleanedUp(record.room);
    await expectNoConsultRoom();
  });

  it('caller hangs up while the human rings: the dial is cancelled', async () => {
    const { caller, human, record } = await transferCall({
      line: '+15550308',
      caller: '+15557650308',
      lineOptions: transferOptions({ ringingTimeoutMs: 60_000 }),
      callerAudio: audio.askThenGoodbye,
      call: { holdMs: 30_000 },
      human: { behaviour: 'no_answer' },
    });
    expect(caller.hangup).toBe('local');
    expect(human?.log).toContain('RESULT=cancelled');
    expect(lastTransfer(record).status).toBe('caller_hung_up');
    expect(record.outcome).toBe('caller_hung_up');
    await expectCallCleanedUp(record.room);
    await expectNoConsultRoom();
  });
});

describe('cold transfer', () => {
  it(
    'REFERs the caller to the front desk; livekit-sip hangs up after NOTIFY 200',
    LIVEKIT_SIP_REFER_RACE,
    async () => {
      const { caller, record } = await transferCall({
        line: '+15550309',
        caller: '+15557650309',
        lineOptions: transferOptions(),
        callerAudio: audio.askForFrontDesk,
        call: { onRefer: 'accept' },
      });
      expect(caller.referTo).toBe(COLD_TARGET);
      expect(caller.hangup).toBe('remote');
      expect(record.outcome).toBe('transferred');
      expect(lastTransfer(record)).toMatchObject({
        kind: 'cold',
        destination: COLD_TARGET,
        status: 'completed',
        method: 'refer',
      });
      expect(record.turns.map((t) => t.text)).toContain(COLD_TRANSFER_ANNOUNCEMENT);
      await expectCallCleanedUp(record.room);
    },
  );

  it('REFER times out (202, then no final NOTIFY): the caller stays with the agent and hears why', async () => {
    const { caller, record } = await transferCall({
      line: '+15550312',
      caller: '+15557650312',
      lineOptions: transferOptions({ referTimeoutMs: 3_000 }),
      callerAudio: audio.askForFrontDesk,
      call: { onRefer: 'stall', afterReferMs: 15_000 },
    });
    expect(caller.log).toContain('REFER=accepted');
    expect(caller.hangup).toBe('local');
    expect(lastTransfer(record)).toMatchObject({ kind: 'cold', status: 'timed_out' });
    expect(record.turns.map((x) => x.text)).toContain(TRANSFER_EXPLANATIONS.timed_out);
    expect(record.outcome).toBe('caller_hung_up');
    await expectCallCleanedUp(record.room);
  });

  it(
    'REFER refused (603): the caller stays with the agent and hears why',
    LIVEKIT_SIP_REFER_RACE,
    async () => {
      const { caller, record, callerMeter } = await transferCall({
        line: '+15550310',
        caller: '+15557650310',
        lineOptions: transferOptions(),
        callerAudio: audio.askForFrontDesk,
        call: { onRefer: 'decline', afterReferMs: 10_000 },
      });
      expect(caller.log).toContain('REFER=declined');
      expect(caller.hangup).toBe('local');
      const t = lastTransfer(record);
      expect(t).toMatchObject({ kind: 'cold', status: 'refused', sipStatus: 603 });
      const explained = record.turns.find((x) => x.text === TRANSFER_EXPLANATIONS.refused);
      expect(explained).toBeDefined();
      // The announcement said no goodbye to a caller who stays.
      expect(record.turns.filter((x) => x.role === 'agent' && /goodbye/i.test(x.text))).toEqual([]);
      expect(callerMeter.loudPacketsAfter(perfTime(explained?.at ?? '') - 5_000)).toBeGreaterThan(
        50,
      );
      expect(record.outcome).toBe('caller_hung_up');
      await expectCallCleanedUp(record.room);
    },
  );
});

describe('warm transfer from a browser', () => {
  it('a web caller (no SIP dialog) is bridged to the human: audio both ways, then hang-up ends both legs', async () => {
    const browser = await launchChromium(audio.askForPersonWav);
    const humanMeter = new RtpMeter(layout.serviceIp, 24990);
    await humanMeter.start();
    try {
      const human = runSippHuman({
        behaviour: 'answer',
        localIp: layout.serviceIp,
        sipPort: HUMAN_SIP_PORT,
        mediaPort: 22990,
        recordPort: 24990,
        mediaFile: audio.humanTone,
        ringMs: 500,
        timeoutMs: 90_000,
        afterAnswer: dtmfSteps('1', 2000),
      });
      const page = await browser.newPage();
      // The page asks the project's token endpoint; this test answers instead, with a token whose
      // dispatch carries the line's transfer options (the endpoint serves the demo line's).
      const token = await createParticipantToken({
        apiKey: LOCAL_API_KEY,
        apiSecret: LOCAL_API_SECRET,
        agentName: AGENT_NAME,
        agentMetadata: JSON.stringify(transferOptions()),
        ttlSeconds: 600,
      });
      await page.route('**/api/token', (route) =>
        route.fulfill({
          status: 201,
          json: {
            server_url: `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`,
            participant_token: token.token,
          },
        }),
      );
      await page.goto(`http://127.0.0.1:${layout.ports.web}/`);
      await page.click('#call');
      await page.waitForFunction(
        () => (window.switchboard.loudFramesByTrack['human-audio'] ?? 0) >= 20,
        undefined,
        { timeout: 60_000 },
      );
      // The browser's microphone plays a tone from 20 s on: once it reaches the human, hang up.
      const bridged = performance.now();
      await eventually(
        "the browser's audio at the human",
        () => Promise.resolve(humanMeter.loudPacketsAfter(bridged) > 50),
        30_000,
      );
      await page.click('#hangup');
      const humanResult = await human;
      expect(humanResult.hangup).toBe('remote');

      const record = await waitForCallRecord('the web caller', (r) => r.room === token.roomName);
      expect(record.caller.channel).toBe('web');
      expect(record.outcome).toBe('transferred');
      const t = lastTransfer(record);
      expect(t).toMatchObject({ kind: 'warm', status: 'completed', method: 'bridge' });
      expect(t.handOffAttempts).toEqual([{ method: 'bridge', status: 'completed' }]);
      expect(humanMeter.loudPacketsAfter(perfTime(t.connectedAt ?? '') + 300)).toBeGreaterThan(50);
      await expectCallCleanedUp(record.room);
      await expectNoConsultRoom();
    } finally {
      await humanMeter.close();
      await browser.close();
    }
  });
});
