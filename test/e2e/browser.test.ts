/**
 * A browser caller end to end: headless Chromium opens the project's page, which gets a token from
 * the project's token endpoint and joins with livekit-client; the agent is dispatched by the
 * token's room configuration and its greeting is measured in the page with WebAudio.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenVerifier } from 'livekit-server-sdk';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { waitForCallRecord } from '../support/call-records.js';
import { launchChromium, writeSilenceWav } from '../support/chromium.js';
import { AGENT_NAME, expectCallCleanedUp, layout } from '../support/stack-env.js';

// Inside the stack's network: localhost makes the page a secure context (microphone allowed).
const pageUrl = `http://127.0.0.1:${layout.ports.web}/`;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium(await writeSilenceWav(await mkdtemp(join(tmpdir(), 'sb-mic-'))));
});

afterAll(async () => {
  await browser.close();
});

describe('the token endpoint', () => {
  it('issues a short-lived token for one new room that dispatches the agent and grants only the microphone', async () => {
    const res = await fetch(new URL('/api/token', pageUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ participant_name: 'Ada', room_name: 'someone-elses-room' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { server_url: string; participant_token: string };
    expect(body.server_url).toBe(`ws://${layout.serviceIp}:${layout.ports.livekitHttp}`);
    const claims = await new TokenVerifier(LOCAL_API_KEY, LOCAL_API_SECRET).verify(
      body.participant_token,
    );
    // Chosen by the server, not the browser: the user's tag, then the call's own part.
    expect(claims.video?.room).toMatch(/^web-[0-9a-f]{16}-[0-9a-f-]{12}$/);
    expect(claims.video?.roomJoin).toBe(true);
    expect(claims.video?.roomAdmin).toBeUndefined();
    // Only what the page uses: its microphone; no data messages, no camera or screen.
    expect(claims.video?.canPublishSources).toEqual(['microphone']);
    expect(claims.video?.canPublishData).toBe(false);
    expect(claims.name).toBe('Ada');
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(30); // WEB_TOKEN_TTL_SECONDS
    expect(claims.roomConfig?.agents.map((a) => a.agentName)).toEqual([AGENT_NAME]);
  });

  it('rejects a malformed request with a message saying what is wrong', async () => {
    const res = await fetch(new URL('/api/token', pageUrl), {
      method: 'POST',
      body: '{"participant_name": 42}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/participant_name/);
  });
});

describe('a browser call to the agent', () => {
  it('joins with livekit-client, the agent is dispatched, and the page hears the greeting', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(pageUrl);
      await page.click('#call');
      await page.waitForFunction(() => window.switchboard.phase === 'connected', undefined, {
        timeout: 30_000,
      });
      // 10 loud 50 ms windows: half a second of audible speech from the agent, measured in the page.
      await page.waitForFunction(() => window.switchboard.agentAudio.loudFrames >= 10, undefined, {
        timeout: 30_000,
      });
      const state = await page.evaluate(() => window.switchboard);
      expect(state.agentJoined).toBe(true);
      expect(state.agentAudio.peakRms).toBeGreaterThan(0.05);
      const roomName = state.roomName ?? '';
      expect(roomName).toMatch(/^web-/);

      await page.click('#hangup');
      await page.waitForFunction(() => window.switchboard.phase === 'ended', undefined, {
        timeout: 10_000,
      });

      const record = await waitForCallRecord('the browser call', (r) => r.room === roomName);
      expect(record.caller).toMatchObject({
        channel: 'web',
        direction: 'inbound',
        displayName: 'Browser caller',
      });
      expect(record.outcome).toBe('caller_hung_up');
      expect(record.turns.find((t) => t.role === 'agent')?.text).toMatch(/welcome/);
      await expectCallCleanedUp(roomName);
    } finally {
      await page.close();
    }
  });
});
