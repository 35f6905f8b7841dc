/**
 * Calls that reach the agent only through rules applied by sip-dispatch: matched by called number,
 * PIN-protected (the caller types the PIN as RFC 4733 DTMF), and a direct rule into a fixed room.
 * A caller number or source address the trunk does not allow gets no answer at all (livekit-sip
 * drops a call that matches no trunk and rule without a final response).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT, LivekitSipApi, runSipCommand } from '../../sip-dispatch/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { waitForCallRecord } from '../support/call-records.js';
import { sippCall } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { dtmfSteps, parseSippTrace, runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import {
  AGENT_NAME,
  agentActiveJobs,
  expectCallCleanedUp,
  httpUrl,
  layout,
  roomClient,
} from '../support/stack-env.js';

const api = new LivekitSipApi({ url: httpUrl, apiKey: LOCAL_API_KEY, apiSecret: LOCAL_API_SECRET });
const agents = [{ name: AGENT_NAME }];
const PIN = '4321';

const config = (officeAddresses: string[]) => ({
  inboundTrunks: {
    lines: { name: 'e2e sip-dispatch lines', numbers: ['+15550171', '+15550172', '+15550173'] },
    'vip-line': { numbers: ['+15550174'], allowedNumbers: ['+15557650174'] },
    'office-line': { numbers: ['+15550175'], allowedAddresses: officeAddresses },
  },
  dispatchRules: {
    'by-number': {
      type: 'individual',
      roomPrefix: 'sd-num-',
      trunks: ['lines'],
      calledNumbers: ['+15550171'],
      agents,
    },
    'with-pin': {
      type: 'individual',
      roomPrefix: 'sd-pin-',
      pin: PIN,
      trunks: ['lines'],
      calledNumbers: ['+15550172'],
      agents,
    },
    'fixed-room': {
      type: 'direct',
      roomName: 'sd-direct-room',
      trunks: ['lines'],
      calledNumbers: ['+15550173'],
      agents,
    },
    vip: { type: 'individual', roomPrefix: 'sd-vip-', trunks: ['vip-line'], agents },
    office: { type: 'individual', roomPrefix: 'sd-office-', trunks: ['office-line'], agents },
  },
});

let dir: string;
let silence: string;
let fileNo = 0;

async function sip(command: string, cfg: object, flags: string[] = []): Promise<string> {
  const file = join(dir, `calls-${fileNo++}.yaml`);
  await writeFile(file, stringify(cfg));
  const out: string[] = [];
  const code = await runSipCommand([command, ...flags, '--config', file], {
    out: (t) => out.push(t),
    err: (t) => out.push(t),
    color: false,
    secret: () => undefined,
    connect: () => api,
    serverLabel: httpUrl,
  });
  expect(code, out.join('\n')).toBe(EXIT.ok);
  return out.join('\n');
}

/** The server ID of the rule sip-dispatch applied for a config entry. */
async function ruleId(entry: string): Promise<string> {
  const rule = (await api.read()).dispatchRules.find((r) => r.marker?.id === entry);
  if (rule === undefined) throw new Error(`no rule for ${entry}`);
  return rule.serverId;
}

async function roomsOf(callerNumber: string): Promise<string[]> {
  return (await roomClient().listRooms())
    .map((r) => r.name)
    .filter((n) => n.includes(callerNumber));
}

/** A call the agent answers: the greeting is heard and the record names the rule and room. */
async function answeredCall(
  called: string,
  caller: string,
  recordPort: number,
  afterAnswer?: string,
) {
  const meter = new RtpMeter(layout.serviceIp, recordPort);
  await meter.start();
  const result = await runSippCaller(
    sippCall(called, caller, silence, {
      recordPort,
      holdMs: afterAnswer === undefined ? 10_000 : 20_000,
      ...(afterAnswer === undefined ? {} : { afterAnswer }),
    }),
  ).finally(() => meter.close());
  expect(result.answered).toBe(true);
  expect(meter.report().loudPackets).toBeGreaterThan(50);
  const record = await waitForCallRecord(
    `the call from ${caller}`,
    (r) => r.caller.channel === 'phone' && r.caller.callerNumber === caller,
  );
  expect(record.turns.find((t) => t.role === 'agent')?.text).toMatch(/thank you for calling/);
  await expectCallCleanedUp(caller);
  return record;
}

/** A call nobody answers: it reached livekit-sip (100 Trying) and got no final response. */
async function unansweredCall(called: string, caller: string) {
  const result = await runSippCaller(sippCall(called, caller, silence, { answerTimeoutMs: 8_000 }));
  expect(result.answered).toBe(false);
  const responses = parseSippTrace(result.messages)
    .filter((m) => m.direction === 'received')
    .map((m) => m.startLine);
  expect(responses.some((l) => l.startsWith('SIP/2.0 100'))).toBe(true);
  expect(responses.filter((l) => /^SIP\/2\.0 [2-6]\d\d/.test(l))).toEqual([]);
  expect(await roomsOf(caller)).toEqual([]);
  expect(await agentActiveJobs()).toBe(0);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-sip-calls-'));
  silence = await writeSilenceUlaw(dir);
  expect(await sip('apply', config(['192.0.2.10/32']))).toMatch(/Applied 8 change\(s\)/);
});

afterAll(async () => {
  await sip('prune', {}, ['--confirm-destroy']);
  const left = await api.read();
  expect([...left.inboundTrunks, ...left.dispatchRules].filter((o) => o.marker)).toEqual([]);
});

describe('calls through rules applied by sip-dispatch', () => {
  it('a rule matched by called number puts the agent in a new room', async () => {
    const record = await answeredCall('+15550171', '+15557650171', 24600);
    expect(record.caller).toMatchObject({ dispatchRuleId: await ruleId('by-number') });
    expect(record.room).toMatch(/^sd-num-/);
  });

  it('a PIN-protected rule lets the caller in after the PIN typed as DTMF', async () => {
    // livekit-sip answers, prompts for the PIN, and dispatches on "4321#".
    const record = await answeredCall(
      '+15550172',
      '+15557650172',
      24602,
      dtmfSteps(`${PIN}#`, 4_000),
    );
    expect(record.caller).toMatchObject({ dispatchRuleId: await ruleId('with-pin') });
    expect(record.room).toMatch(/^sd-pin-/);
  });

  it('a direct rule puts the call into its fixed room', async () => {
    const record = await answeredCall('+15550173', '+15557650173', 24604);
    expect(record.caller).toMatchObject({ dispatchRuleId: await ruleId('fixed-room') });
    expect(record.room).toBe('sd-direct-room');
  });

  it('a caller number the trunk does not allow is not answered; an allowed one is', async () => {
    await unansweredCall('+15550174', '+15557650199');
    const record = await answeredCall('+15550174', '+15557650174', 24606);
    expect(record.caller).toMatchObject({ dispatchRuleId: await ruleId('vip') });
  });

  it('a source address the trunk does not allow is not answered, until apply allows it', async () => {
    await unansweredCall('+15550175', '+15557650175');
    expect(await sip('apply', config([`${layout.serviceIp}/32`]))).toMatch(
      /update inbound trunk office-line/,
    );
    const record = await answeredCall('+15550175', '+15557650176', 24608);
    expect(record.caller).toMatchObject({ dispatchRuleId: await ruleId('office') });
  });
});
