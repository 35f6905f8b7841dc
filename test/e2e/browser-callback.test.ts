/**
 * A callback the browser asks for (issue 14): POST /api/callback to web/server.ts, configured as
 * a user would (WEB_CALLBACK_TRUNK), becomes a one-row campaign; the agent dials the number
 * through that trunk and SIPp, as the callee, answers. Asserted: the 202, the INVITE for that
 * number at the callee, the call record (direction outbound, the web user in the call's context),
 * and the refusals a page sees for a bad number and for a second request while one is pending.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForCallRecord } from '../support/call-records.js';
import { runSippHuman } from '../support/sipp-human.js';
import { writeSilenceUlaw } from '../support/sipp.js';
import { AGENT_NAME, layout, sipClient } from '../support/stack-env.js';
import { startWebServer, type WebServer } from '../support/web-server.js';

const TRUNK = 'e2e-web-callback';
const CALLEE_PORT = 5086;
const NUMBER = '+15550180001';

let dir: string;
let trunkId = '';
let server: WebServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-callback-'));
  const trunk = await sipClient().createSipOutboundTrunk(
    TRUNK,
    `${layout.serviceIp}:${CALLEE_PORT}`,
    ['+15550000055'],
  );
  trunkId = trunk.sipTrunkId;
  server = await startWebServer(
    8094,
    {
      WEB_CALLBACK_TRUNK: TRUNK,
      WEB_CALLBACK_AGENT: AGENT_NAME,
      WEB_CALLBACK_CAMPAIGNS_DIR: join(dir, 'campaigns'),
    },
    join(process.cwd(), '.stack', 'logs', 'web-callback.log'),
  );
});

afterAll(async () => {
  await server.stop();
  if (trunkId !== '') await sipClient().deleteSipTrunk(trunkId);
  await rm(dir, { recursive: true, force: true });
});

function askCallback(body: object): Promise<Response> {
  return fetch(`${server.url}/api/callback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify(body),
  });
}

describe('a callback the browser asks for', () => {
  it('becomes a call to that number through the configured trunk; a second ask while it runs is refused', async () => {
    const placedAt = Date.now();
    const callee = runSippHuman({
      behaviour: 'answer',
      localIp: layout.serviceIp,
      sipPort: CALLEE_PORT,
      mediaPort: 23600,
      recordPort: 23700,
      mediaFile: await writeSilenceUlaw(dir),
      ringMs: 300,
      hangUpAfterMs: 6_000,
      timeoutMs: 60_000,
    });
    const accepted = await askCallback({ number: NUMBER });
    expect(accepted.status).toBe(202);
    const body = (await accepted.json()) as { campaign: string; number: string };
    expect(body.campaign).toMatch(/^callback-/);
    // The page gets the number back masked, not whole.
    expect(body.number).not.toContain('0180001');

    const again = await askCallback({ number: NUMBER });
    expect(again.status).toBe(409);

    const invalid = await askCallback({ number: '555-0123' });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/^number/);

    const result = await callee;
    expect(result.log).toMatch(new RegExp(`INVITE_RURI=INVITE sip:\\${NUMBER}@`));
    expect(result.answered).toBe(true);
    const record = await waitForCallRecord(
      'the callback',
      (r) => r.outbound?.to === NUMBER && Date.parse(r.startedAt) >= placedAt,
    );
    expect(record).toMatchObject({
      caller: { channel: 'phone', direction: 'outbound', calledNumber: NUMBER },
      outbound: { result: 'answered', trunk: TRUNK },
    });
    // Nothing of the number in the web server's log.
    expect(await server.log()).not.toContain('0180001');
  });
});
