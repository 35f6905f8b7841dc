/**
 * A browser user behind a restrictive network (issue 15, item 5): about one in ten sits behind a
 * NAT or firewall where direct UDP fails. Chromium runs in a network namespace of its own
 * (test/support/client-network.ts) whose nftables firewall the test sets, opens the project's page
 * and calls the agent three times:
 *   1. open network: media goes directly (ICE/UDP, a host candidate);
 *   2. the corporate firewall: out, only TCP to the signalling port, the page's port and 443; no
 *      UDP, no ICE/TCP (7881). The browser joins through livekit-server's embedded TURN server
 *      over TLS on 443 and hears the greeting; getStats shows the selected pair is relayed over TLS;
 *   3. the same firewall without 443: the join gets no media (the negative control).
 * It logs "browser join -> first agent audio" for the direct and the relayed call.
 * Requires livekit.yaml's `turn:` section (docs/turn.md) and the stack's TURN certificate.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenVerifier } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { readTurnCertificate, TURN_DOMAIN } from '../../stack/turn-certificate.js';
import { writeSilenceWav } from '../support/chromium.js';
import {
  clientFirewallRules,
  clientNetworkFor,
  clientPageUrl,
  createClientNetwork,
  deleteClientNetwork,
  iceServerUrls,
  launchChromiumInClientNetwork,
  recordPeerConnections,
  selectedCandidatePair,
  setClientFirewall,
  TURN_TLS_PORT,
  type SelectedCandidatePair,
} from '../support/client-network.js';
import { expectCallCleanedUp, layout } from '../support/stack-env.js';

const net = clientNetworkFor(layout, TURN_DOMAIN);
const pageUrl = clientPageUrl(net);
/** What livekit-server hands out for its TURN/TLS listener. */
const TURNS_URL = `turns:${TURN_DOMAIN}:${TURN_TLS_PORT}?transport=tcp`;
/** Half a second of audible agent speech in the page (50 ms windows), as test/e2e/browser.test.ts. */
const GREETING_FRAMES = 10;
/**
 * Unit: ms. Without a path for media, livekit-client gives up after its peerConnectionTimeout
 * (15 s); the room's signalling has connected by then.
 */
const NO_MEDIA_FAILS_WITHIN_MS = 40_000;
/** Unit: ms. Three calls with their clean-ups, the last one waiting out livekit-client's 15 s. */
const TEST_TIMEOUT_MS = 180_000;

let browser: Browser | undefined;

beforeAll(async () => {
  // The leaf livekit-server serves: Chromium trusts exactly its key, nothing else.
  const certificate = await readTurnCertificate();
  await createClientNetwork(net);
  browser = await launchChromiumInClientNetwork(net, {
    micWav: await writeSilenceWav(await mkdtemp(join(tmpdir(), 'sb-mic-'))),
    trustSpkiSha256: [certificate.spkiSha256],
  });
});

afterAll(async () => {
  await browser?.close();
  await deleteClientNetwork(net);
});

interface HeardCall {
  roomName: string;
  /** Unit: ms. From the click on "Call" to the page's first loud 20 ms window of agent audio. */
  joinToFirstAgentAudioMs: number;
  peakRms: number;
  selected: SelectedCandidatePair | undefined;
  iceServerUrls: string[];
}

/**
 * The room the token endpoint chose for this page's next call (the page learns it only once
 * joined). First waits, if need be, until the token endpoint has a call left for this user.
 */
/**
 * The room of the call the page is about to make. The three calls of this file come from one
 * address, one user to the token endpoint, whose WEB_MAX_CALLS_PER_USER is 2 (the default). The
 * third may be asked for before the first two tokens have expired (30 s); it gets one because the
 * endpoint saw their rooms in use (test/e2e/browser-entrance.test.ts "a redial" checks exactly
 * that).
 */
async function roomOfNextCall(page: Page): Promise<() => Promise<string>> {
  const response = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/token');
  return async () => {
    const res = await response;
    const body = (await res.json()) as { participant_token?: string; error?: string };
    if (body.participant_token === undefined)
      throw new Error(`the token endpoint answered ${res.status()}: ${body.error ?? ''}`);
    const claims = await new TokenVerifier(LOCAL_API_KEY, LOCAL_API_SECRET).verify(
      body.participant_token,
    );
    return claims.video?.room ?? '';
  };
}

async function callAndHearGreeting(label: string): Promise<HeardCall> {
  const page = await requireBrowser().newPage();
  try {
    await recordPeerConnections(page);
    await page.goto(pageUrl);
    const roomName = await roomOfNextCall(page);
    await page.click('#call');
    const room = await roomName();
    try {
      await page.waitForFunction(() => window.switchboard.phase === 'connected', undefined, {
        timeout: 30_000,
      });
      await page.waitForFunction(
        (frames) => window.switchboard.agentAudio.loudFrames >= frames,
        GREETING_FRAMES,
        { timeout: 30_000 },
      );
    } catch (err) {
      const state = await page.evaluate(() => window.switchboard);
      throw new Error(
        `${label}: no greeting heard (phase ${state.phase}${state.error === undefined ? '' : `, error ${state.error}`}); client firewall:\n${await clientFirewallRules(net)}`,
        { cause: err },
      );
    }
    const state = await page.evaluate(() => window.switchboard);
    const heard: HeardCall = {
      roomName: room,
      joinToFirstAgentAudioMs: Math.round(state.loudAtMs.agent[0] ?? Number.NaN),
      peakRms: state.agentAudio.peakRms,
      selected: await selectedCandidatePair(page),
      iceServerUrls: await iceServerUrls(page),
    };
    await page.click('#hangup');
    await page.waitForFunction(() => window.switchboard.phase === 'ended', undefined, {
      timeout: 10_000,
    });
    await expectCallCleanedUp(room);
    return heard;
  } finally {
    await page.close();
  }
}

function requireBrowser(): Browser {
  if (browser === undefined) throw new Error('Chromium did not start in the client network');
  return browser;
}

describe('a browser behind a firewall that drops UDP and ICE/TCP', () => {
  it(
    'joins through TURN/TLS on 443 and hears the greeting; without TURN it gets no media',
    async () => {
      // 1. Open network: the direct path, for comparison.
      await setClientFirewall(net, 'open');
      const direct = await callAndHearGreeting('direct call');
      expect(direct.peakRms).toBeGreaterThan(0.05);
      expect(direct.selected?.local).toMatchObject({ candidateType: 'host', protocol: 'udp' });
      expect(direct.selected?.remote).toMatchObject({
        address: net.serviceIp,
        port: layout.ports.livekitRtcUdp,
        protocol: 'udp',
      });

      // 2. Only TCP to 7880, 8080 and 443 leaves the client: TURN/TLS is the only media path.
      await setClientFirewall(net, 'turn-only');
      const relayed = await callAndHearGreeting('call through TURN');
      expect(relayed.iceServerUrls, 'livekit.yaml has no TURN/TLS (turn.tls_port)').toContain(
        TURNS_URL,
      );
      expect(relayed.peakRms).toBeGreaterThan(0.05);
      expect(relayed.selected?.local).toMatchObject({
        candidateType: 'relay',
        relayProtocol: 'tls',
        url: TURNS_URL,
      });
      // The relay forwards to the SFU's own UDP candidate, inside the stack's network.
      expect(relayed.selected?.remote).toMatchObject({
        address: net.serviceIp,
        port: layout.ports.livekitRtcUdp,
      });
      expect(relayed.selected?.bytesReceived).toBeGreaterThan(0);

      console.log(
        `browser join -> first agent audio: direct (host/udp) ${direct.joinToFirstAgentAudioMs} ms, through TURN/TLS on ${TURN_TLS_PORT} ${relayed.joinToFirstAgentAudioMs} ms (${relayed.joinToFirstAgentAudioMs - direct.joinToFirstAgentAudioMs >= 0 ? '+' : ''}${relayed.joinToFirstAgentAudioMs - direct.joinToFirstAgentAudioMs} ms)`,
      );

      // 3. Negative control: the same firewall without 443. Signalling (7880) still connects.
      await setClientFirewall(net, 'no-turn');
      const page = await requireBrowser().newPage();
      try {
        await recordPeerConnections(page);
        await page.goto(pageUrl);
        const roomName = await roomOfNextCall(page);
        const clickedAt = Date.now();
        await page.click('#call');
        const room = await roomName();
        await page.waitForFunction(() => window.switchboard.phase === 'failed', undefined, {
          timeout: NO_MEDIA_FAILS_WITHIN_MS,
        });
        const failedAfterMs = Date.now() - clickedAt;
        const state = await page.evaluate(() => window.switchboard);
        expect(state.agentAudio.loudFrames).toBe(0);
        expect(await selectedCandidatePair(page)).toBeUndefined();
        console.log(
          `without TURN (443 blocked too): no media; the page gave up after ${failedAfterMs} ms (${state.error ?? 'no error text'})`,
        );
        await expectCallCleanedUp(room);
      } finally {
        await page.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
