/**
 * The browser entrance under attack, on the real stack: a script that asks the page's token
 * endpoint for tokens as fast as it can, joins with all of them and holds every seat, so phone
 * callers get 486 and the model budget is spent. Two demo web servers of this checkout run beside
 * the stack's (one with an authorisation hook and a cap of one call per user, one open with a low
 * rate), a production worker with two seats of which one is kept for phone calls answers, and the
 * joins are real participants (rtc-node) in LiveKit rooms.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Room, RoomEvent } from '@livekit/rtc-node';
import {
  AccessToken,
  RoomAgentDispatch,
  RoomConfiguration,
  TokenVerifier,
} from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallRecords } from '../../src/call-records/index.js';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import { activeJobs, startAgentWorker, type AgentWorker } from '../support/agent-worker.js';
import { waitForCallRecord } from '../support/call-records.js';
import { launchChromium, writeSilenceWav } from '../support/chromium.js';
import { provisionLine, sippCall, type PhoneLine } from '../support/phone-lines.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { runSippCaller, writeSilenceUlaw } from '../support/sipp.js';
import { AGENT_NAME, eventually, layout, roomClient } from '../support/stack-env.js';
import { startWebServer, type WebServer } from '../support/web-server.js';

const AGENT = 'switchboard-web-share';
const LINE = '+15550187';
const WORKER_HTTP_PORT = 8197;
const WORKER_HEALTH_PORT = 8198;
const GATED_PORT = 18480;
const OPEN_PORT = 18481;
/** One call per user and tokens that last a minute: a redial inside the minute is the test. */
const REDIAL_PORT = 18482;
const TOKEN_TTL_SECONDS = 5;
const livekitUrl = `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`;

/** The hook a deployment would write against its own sessions; here: `Bearer demo-<user>`. */
const AUTH_HOOK = `
export function authorize(request) {
  const m = /^Bearer demo-([a-z0-9-]+)$/.exec(request.headers.authorization ?? '');
  return m === null
    ? { allow: false, reason: 'sign in first: send Authorization: Bearer demo-<user>' }
    : { allow: true, userId: m[1] };
}
`;

async function askToken(
  server: WebServer,
  opts: { user?: string; origin?: string; body?: object } = {},
): Promise<Response> {
  return fetch(`${server.url}/api/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.user === undefined ? {} : { authorization: `Bearer demo-${opts.user}` }),
      ...(opts.origin === undefined ? {} : { origin: opts.origin }),
    },
    body: JSON.stringify(opts.body ?? { participant_name: 'Script' }),
  });
}

async function tokenOf(res: Response): Promise<string> {
  expect(res.status).toBe(201);
  return ((await res.json()) as { participant_token: string }).participant_token;
}

const roomOf = async (token: string) =>
  (await new TokenVerifier(LOCAL_API_KEY, LOCAL_API_SECRET).verify(token)).video?.room ?? '';

/** A real participant joining with a token, as a script would. */
async function joinWith(token: string): Promise<Room> {
  const room = new Room();
  await room.connect(livekitUrl, token, { autoSubscribe: false, dynacast: false });
  return room;
}

async function agentIn(room: string): Promise<boolean> {
  const participants = await roomClient()
    .listParticipants(room)
    .catch(() => []);
  return participants.some((p) => (p.kind as number) === 4); // ParticipantInfo.Kind.AGENT
}

const roomExists = async (room: string) =>
  (await roomClient().listRooms([room])).some((r) => r.name === room);

let gated: WebServer;
let redial: WebServer;
let open: WebServer;
let worker: AgentWorker;
let line: PhoneLine;
let recordsDir: string;
let silence: string;
const rooms: Room[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-entrance-'));
  const logDir = join(process.cwd(), '.stack', 'logs');
  await mkdir(logDir, { recursive: true });
  const hook = join(dir, 'auth-hook.mjs');
  await writeFile(hook, AUTH_HOOK);
  silence = await writeSilenceUlaw(dir);
  recordsDir = join(dir, 'records');
  [gated, open, redial] = await Promise.all([
    startWebServer(
      GATED_PORT,
      {
        WEB_AGENTS: AGENT,
        WEB_AUTH_MODULE: hook,
        WEB_MAX_CALLS_PER_USER: '1',
        WEB_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
        WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: '1000',
        WEB_TOKEN_RATE_PER_USER_PER_MINUTE: '1000',
      },
      join(logDir, 'web-entrance-gated.log'),
    ),
    startWebServer(
      OPEN_PORT,
      // Only the rate is under test here, not the cap of calls per (anonymous) user.
      {
        WEB_AGENTS: AGENT,
        WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: '3',
        WEB_MAX_CALLS_PER_USER: '100',
      },
      join(logDir, 'web-entrance-open.log'),
    ),
    startWebServer(
      REDIAL_PORT,
      {
        WEB_AGENTS: AGENT,
        WEB_AUTH_MODULE: hook,
        WEB_MAX_CALLS_PER_USER: '1',
        WEB_TOKEN_TTL_SECONDS: '60',
        WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: '1000',
        WEB_TOKEN_RATE_PER_USER_PER_MINUTE: '1000',
      },
      join(logDir, 'web-entrance-redial.log'),
    ),
  ]);
  line = await provisionLine(LINE, undefined, AGENT);
  worker = await startAgentWorker({
    mode: 'start',
    httpPort: WORKER_HTTP_PORT,
    healthPort: WORKER_HEALTH_PORT,
    env: {
      LIVEKIT_AGENT_NAME: AGENT,
      CALL_RECORDS_DIR: recordsDir,
      AGENT_MAX_CALLS: '2',
      AGENT_PHONE_RESERVED_CALLS: '1',
      AGENT_MAX_CPU_PERCENT: '100',
      AGENT_IDLE_PROCESSES: '2',
      AGENT_BUSY_GRACE_MS: '2000',
    },
    logFile: join(logDir, 'agent-web-share.log'),
  });
});

afterAll(async () => {
  await Promise.allSettled(rooms.map((r) => r.disconnect()));
  // Each may be missing when beforeAll failed part way.
  await (worker as AgentWorker | undefined)?.stop();
  await (line as PhoneLine | undefined)?.release();
  for (const s of [gated, open, redial] as (WebServer | undefined)[]) await s?.stop();
});

describe('the token endpoint', () => {
  it('with a hook configured, refuses a request without authorisation and names the user of one with it', async () => {
    const refused = await askToken(gated);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toEqual({
      code: 'unauthorized',
      error: 'sign in first: send Authorization: Bearer demo-<user>',
    });
    const token = await tokenOf(await askToken(gated, { user: 'ada' }));
    const claims = await new TokenVerifier(LOCAL_API_KEY, LOCAL_API_SECRET).verify(token);
    expect(claims.attributes).toEqual({ 'user.id': 'ada' });
    // Only what the page uses: its microphone, no data messages.
    expect(claims.video).toMatchObject({
      canPublishSources: ['microphone'],
      canPublishData: false,
      canSubscribe: true,
    });
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(TOKEN_TTL_SECONDS);
    expect(await gated.log()).toMatch(/token endpoint authorised by .*auth-hook\.mjs/);
  });

  it('refuses a page of a foreign Origin with 403, and serves its own page', async () => {
    const foreign = await askToken(gated, { user: 'eve', origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: 'origin_not_allowed' });
    const own = await askToken(gated, { user: 'eve', origin: gated.url });
    expect(own.status).toBe(201);
    expect(own.headers.get('access-control-allow-origin')).toBe(gated.url);
  });

  it('answers 429 with Retry-After beyond the rate of one address, and says it is open', async () => {
    const replies: Response[] = [];
    for (let i = 0; i < 5; i++) replies.push(await askToken(open));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 429, 429]);
    const limited = replies[3]!;
    expect(await limited.json()).toMatchObject({ code: 'rate_limited' });
    // 3 a minute: the next one in 20 s.
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(19);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(await open.log()).toMatch(/token endpoint OPEN: anyone who reaches it gets a token/);
  });
});

describe('the page with its restricted token', () => {
  it('still calls: the agent answers a microphone-only caller, named by the hook', async () => {
    const browser = await launchChromium(
      await writeSilenceWav(await mkdtemp(join(tmpdir(), 'sb-mic-'))),
    );
    try {
      const page = await browser.newPage();
      // What a signed-in page would send to its token endpoint (only there: LiveKit's signal
      // connection reads an Authorization header as its token); the hook names the user "page".
      await page.route('**/api/token', (route) =>
        route.continue({
          headers: { ...route.request().headers(), authorization: 'Bearer demo-page' },
        }),
      );
      await page.goto(`http://127.0.0.1:${GATED_PORT}/`);
      await page.click('#call');
      await page
        .waitForFunction(() => window.switchboard.phase === 'connected', undefined, {
          timeout: 30_000,
        })
        .catch(async (err: unknown) => {
          const state = await page.evaluate(() => window.switchboard);
          throw new Error(`the page did not connect: ${JSON.stringify(state)}`, { cause: err });
        });
      await page.waitForFunction(() => window.switchboard.agentAudio.loudFrames >= 10, undefined, {
        timeout: 30_000,
      });
      const roomName = (await page.evaluate(() => window.switchboard.roomName)) ?? '';
      await page.click('#hangup');
      await eventually('the page call to be recorded', async () =>
        (await readCallRecords(recordsDir)).some((r) => r.room === roomName),
      );
      const record = (await readCallRecords(recordsDir)).find((r) => r.room === roomName);
      expect(record?.caller).toMatchObject({ channel: 'web', userId: 'page' });
    } finally {
      await browser.close();
    }
    await eventually(
      'the page call to end on the worker',
      async () => (await activeJobs(WORKER_HTTP_PORT)) === 0,
      30_000,
    );
  });
});

describe('a cap on the calls of one user', () => {
  it('holds across concurrent requests and real joins, counted by LiveKit once the token expired', async () => {
    // A script asks for five tokens at once: one is issued.
    const burst = await Promise.all(
      [1, 2, 3, 4, 5].map(() => askToken(gated, { user: 'mallory' })),
    );
    expect(burst.map((r) => r.status).sort()).toEqual([201, 429, 429, 429, 429]);
    const refusal = (await burst.find((r) => r.status === 429)!.json()) as { code: string };
    expect(refusal.code).toBe('too_many_calls');
    const token = await tokenOf(burst.find((r) => r.status === 201)!);
    const roomName = await roomOf(token);
    const caller = await joinWith(token);
    rooms.push(caller);
    await eventually('the agent to join the call', () => agentIn(roomName), 30_000);

    // Past the token's lifetime only LiveKit knows the call is live: still refused.
    await new Promise((r) => setTimeout(r, TOKEN_TTL_SECONDS * 1000 + 500));
    const again = await askToken(gated, { user: 'mallory' });
    expect(again.status).toBe(429);
    // The user's rooms on the server: this one call.
    const prefix = roomName.slice(0, roomName.lastIndexOf('-') + 1);
    expect((await roomClient().listRooms()).filter((r) => r.name.startsWith(prefix))).toHaveLength(
      1,
    );
    // Another user is not affected.
    expect((await askToken(gated, { user: 'trent' })).status).toBe(201);

    await caller.disconnect();
    await eventually(
      'a seat for the user once their call is over',
      async () => (await askToken(gated, { user: 'mallory' })).status === 201,
      30_000,
    );
    await eventually(
      'the web call to end on the worker',
      async () => (await activeJobs(WORKER_HTTP_PORT)) === 0,
      30_000,
    );
  });
});

describe('a redial', () => {
  it('after a call whose room is gone gets a token at once, though the first token could still be used', async () => {
    const first = await tokenOf(await askToken(redial, { user: 'quick' }));
    const roomName = await roomOf(first);
    const caller = await joinWith(first);
    rooms.push(caller);
    await eventually('the agent to join the call', () => agentIn(roomName), 30_000);
    // The endpoint looks for its pending tokens' rooms every second: this one is seen in use.
    await new Promise((r) => setTimeout(r, 1_500));
    await caller.disconnect();
    await eventually(
      'the call room to be deleted',
      async () => (await roomClient().listRooms()).every((r) => r.name !== roomName),
      45_000,
    );
    // Well inside the first token's minute: only LiveKit's count applies now, and it is 0.
    const again = await askToken(redial, { user: 'quick' });
    expect(again.status).toBe(201);
    // The cap still holds for that new token until it is used.
    expect((await askToken(redial, { user: 'quick' })).status).toBe(429);
    await eventually(
      'the web call to end on the worker',
      async () => (await activeJobs(WORKER_HTTP_PORT)) === 0,
      30_000,
    );
  });
});

describe('seats kept for phone calls', () => {
  it('answers a phone call while browser calls fill their share, and turns the next browser call away', async () => {
    // One seat of two for browsers: the first browser call takes it.
    const first = await tokenOf(await askToken(gated, { user: 'web-one' }));
    const firstRoom = await roomOf(first);
    rooms.push(await joinWith(first));
    await eventually('the first browser call to be answered', () => agentIn(firstRoom), 30_000);
    expect(await activeJobs(WORKER_HTTP_PORT)).toBe(1);

    // A second browser caller (another user): the worker declines, nobody takes it, the room goes.
    const second = await tokenOf(await askToken(gated, { user: 'web-two' }));
    const secondRoom = await roomOf(second);
    const secondCaller = await joinWith(second);
    rooms.push(secondCaller);
    const disconnected = new Promise<void>((r) =>
      secondCaller.once(RoomEvent.Disconnected, () => r()),
    );
    await eventually(
      'the second browser call to be turned away',
      async () => !(await roomExists(secondRoom)),
      20_000,
    );
    await disconnected;
    expect(await activeJobs(WORKER_HTTP_PORT)).toBe(1);

    // The phone caller gets the kept seat while the browser call goes on.
    const meter = new RtpMeter(layout.serviceIp, 24700);
    await meter.start();
    const result = await runSippCaller(
      sippCall(LINE, '+15557650187', silence, {
        sipPort: 25330,
        mediaPort: 23100,
        recordPort: 24700,
        answerTimeoutMs: 20_000,
        holdMs: 8_000,
      }),
    ).finally(() => meter.close());
    expect(result.answered).toBe(true);
    expect(result.hangup).toBe('local');
    expect(meter.loudPacketsAfter(0)).toBeGreaterThan(25); // the greeting
    expect(await agentIn(firstRoom)).toBe(true);

    await eventually('both calls to be recorded', async () => {
      const records = await readCallRecords(recordsDir);
      return (
        records.some(
          (r) => r.caller.channel === 'phone' && r.caller.callerNumber === '+15557650187',
        ) && records.every((r) => r.room !== secondRoom)
      );
    });
    const worker = await readFile(
      join(process.cwd(), '.stack', 'logs', 'agent-web-share.log'),
      'utf8',
    );
    expect(worker).toMatch(/"reason":"web_share_full"/);
  });
});

describe('text messages', () => {
  it('a chat message from the caller does not reach the LLM', async () => {
    // The page's own token cannot send data at all (checked above). This caller's token can, as
    // the endpoint's tokens could before: the agent must still not answer it.
    const roomName = `web-text-${Date.now()}`;
    const at = new AccessToken(LOCAL_API_KEY, LOCAL_API_SECRET, {
      identity: 'web-user-text',
      ttl: 60,
    });
    at.addGrant({
      roomJoin: true,
      room: roomName,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    at.roomConfig = new RoomConfiguration({
      agents: [new RoomAgentDispatch({ agentName: AGENT_NAME })],
    });
    const caller = await joinWith(await at.toJwt());
    rooms.push(caller);
    // The agent has greeted and listens.
    await eventually(
      'the agent to listen',
      async () =>
        (await roomClient().listParticipants(roomName)).some(
          (p) => p.attributes['lk.agent.state'] === 'listening',
        ),
      30_000,
    );
    await caller.localParticipant!.sendText('what are your opening hours', { topic: 'lk.chat' });
    // The scripted model answers this within a second or two when it gets it.
    await new Promise((r) => setTimeout(r, 8_000));
    await caller.disconnect();
    const record = await waitForCallRecord('the text call', (r) => r.room === roomName);
    expect(record.turns.filter((t) => t.role === 'caller')).toEqual([]);
    expect(record.turns.map((t) => t.text).join(' ')).not.toMatch(/Monday to Friday/);
    expect(record.turns.filter((t) => t.role === 'agent')).toHaveLength(1); // the greeting
  });
});
