/**
 * The browser entrance's policy (src/tokens/token-endpoint.ts): the scenario is a script that asks
 * the page's token endpoint for 200 tokens in 10 s and holds every seat of the worker. Time is
 * injected; the user's calls come from a scripted directory standing in for the LiveKit server's
 * rooms (the e2e test, test/e2e/browser-entrance.test.ts, asks the real server).
 */
import { TokenVerifier } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import {
  BROWSER_CALLER_GRANT,
  RateLimiter,
  TokenEndpoint,
  type TokenAuthorizer,
  type TokenEndpointOptions,
  type TokenHttpRequest,
  type TokenIssued,
  type TokenRefusal,
  type UserCallDirectory,
} from '../../src/tokens/index.js';

const KEY = 'devkey';
const SECRET = 'secret-secret-secret-secret-secret';

describe('RateLimiter', () => {
  it('allows a minute of requests at once, then one per 60/rate seconds, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 20 });
    expect(limiter.take('b')).toEqual({ allowed: true }); // another key has its own bucket
    now = 15_000;
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 5 });
    now = 20_000;
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a').allowed).toBe(false);
    now = 1_000_000; // refills to its capacity, never beyond
    expect([1, 2, 3, 4].map(() => limiter.take('a').allowed)).toEqual([true, true, true, false]);
  });

  it('forgets idle keys when it holds too many, and keeps the ones still limited', () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 1, now: () => now, maxKeys: 2 });
    limiter.take('a');
    now = 120_000;
    limiter.take('b');
    limiter.take('c'); // 'a' has refilled: forgotten; 'b' is still empty
    expect(limiter.take('b').allowed).toBe(false);
  });
});

/** The user's calls as the server would list them: rooms by name, true when the caller is in it. */
class ScriptedRooms implements UserCallDirectory {
  readonly rooms = new Map<string, boolean>();
  callsOf(prefix: string) {
    const mine = [...this.rooms].filter(([name]) => name.startsWith(prefix));
    return Promise.resolve({
      rooms: new Set(mine.map(([name]) => name)),
      live: mine.filter(([, present]) => present).length,
    });
  }
  existing(names: readonly string[]) {
    this.lookups++;
    return Promise.resolve(new Set(names.filter((n) => this.rooms.has(n))));
  }
  lookups = 0;
}

function endpoint(overrides: Partial<TokenEndpointOptions> = {}) {
  const clock = { now: 0 };
  const rooms = new ScriptedRooms();
  const ep = new TokenEndpoint({
    livekit: { url: 'ws://livekit.test:7880', apiKey: KEY, apiSecret: SECRET },
    agents: ['switchboard', 'appointments'],
    authorize: () => ({ allow: true }),
    tokenTtlSeconds: 30,
    ratePerAddressPerMinute: 100,
    ratePerUserPerMinute: 100,
    maxCallsPerUser: 2,
    userCalls: rooms,
    now: () => clock.now,
    ...overrides,
  });
  return { ep, clock, rooms };
}

const post = (over: Partial<TokenHttpRequest> = {}): TokenHttpRequest => ({
  method: 'POST',
  address: '198.51.100.7',
  headers: { host: 'talk.example.com', origin: 'https://talk.example.com' },
  body: {},
  ...over,
});

async function claimsOf(body: unknown) {
  const token = (body as TokenIssued).participant_token;
  return new TokenVerifier(KEY, SECRET).verify(token);
}

describe('TokenEndpoint', () => {
  it('issues a token that grants only what the page uses, for a short while', async () => {
    const { ep } = endpoint({
      authorize: () => ({ allow: true, userId: 'u-42' }),
    });
    const res = await ep.handle(post({ body: { participant_name: 'Ada' } }));
    expect(res.status).toBe(201);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://talk.example.com',
      'cache-control': 'no-store',
    });
    const claims = await claimsOf(res.body);
    expect(claims.video).toEqual({
      ...BROWSER_CALLER_GRANT,
      canPublishSources: ['microphone'],
      room: claims.video?.room,
    });
    expect(claims.video?.canPublishData).toBe(false);
    expect(claims.video?.room).toMatch(/^web-[0-9a-f]{16}-[0-9a-f-]{12}$/);
    expect(claims.attributes).toEqual({ 'user.id': 'u-42' });
    expect(claims.name).toBe('Ada');
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(30);
    expect(claims.roomConfig?.agents.map((a) => a.agentName)).toEqual(['switchboard']);
  });

  it.each([
    ['a foreign origin', { origin: 'https://evil.example' }, undefined, 403],
    [
      'the same origin (scheme aside, behind TLS)',
      { origin: 'http://talk.example.com' },
      undefined,
      201,
    ],
    ['no Origin: not a browser page', {}, undefined, 201],
    [
      'an origin on the allow-list',
      { origin: 'https://app.example.com' },
      ['https://app.example.com'],
      201,
    ],
    ['the page itself when an allow-list is set', {}, ['https://app.example.com'], 201],
    [
      'its own origin, not on the allow-list',
      { origin: 'https://talk.example.com' },
      ['https://app.example.com'],
      403,
    ],
  ] as const)('%s', async (_name, origin, allowed, status) => {
    const { ep } = endpoint(allowed === undefined ? {} : { allowedOrigins: allowed });
    const res = await ep.handle(post({ headers: { host: 'talk.example.com', ...origin } }));
    expect(res.status).toBe(status);
    if (status === 403)
      expect(res.body).toMatchObject({
        code: 'origin_not_allowed',
        error: expect.stringMatching(/WEB_ALLOWED_ORIGINS/) as unknown,
      });
  });

  it('answers the CORS preflight of an allowed origin only', async () => {
    const { ep } = endpoint({ allowedOrigins: ['https://app.example.com'] });
    const ok = await ep.handle(
      post({ method: 'OPTIONS', headers: { origin: 'https://app.example.com' } }),
    );
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-headers']).toMatch(/authorization/);
    const no = await ep.handle(post({ method: 'OPTIONS', headers: { origin: 'https://x.test' } }));
    expect(no.status).toBe(403);
  });

  it('refuses without authorisation when the hook says so, with its reason', async () => {
    const authorize: TokenAuthorizer = (req) =>
      req.headers.authorization === 'Bearer good'
        ? { allow: true, userId: 'u-1' }
        : req.headers.authorization === undefined
          ? { allow: false, reason: 'sign in first' }
          : { allow: false, status: 403, reason: 'this account may not call' };
    const { ep } = endpoint({ authorize });
    const none = await ep.handle(post());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body).toEqual({ code: 'unauthorized', error: 'sign in first' });
    const bad = await ep.handle(post({ headers: { authorization: 'Bearer other' } }));
    expect(bad.status).toBe(403);
    expect((bad.body as TokenRefusal).code).toBe('forbidden');
    const good = await ep.handle(post({ headers: { authorization: 'Bearer good' } }));
    expect(good.status).toBe(201);
  });

  it('limits the rate per address, before authorisation, with Retry-After', async () => {
    let asked = 0;
    const { ep, clock } = endpoint({
      ratePerAddressPerMinute: 2,
      authorize: () => {
        asked++;
        return { allow: false, reason: 'no' };
      },
    });
    expect((await ep.handle(post())).status).toBe(401);
    expect((await ep.handle(post())).status).toBe(401);
    const limited = await ep.handle(post());
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('30');
    expect((limited.body as TokenRefusal).code).toBe('rate_limited');
    expect(asked).toBe(2); // the third guess never reached the hook
    expect((await ep.handle(post({ address: '203.0.113.9' }))).status).toBe(401);
    clock.now = 30_000;
    expect((await ep.handle(post())).status).toBe(401);
  });

  it('limits the rate per user, whatever address they come from', async () => {
    const { ep } = endpoint({
      ratePerUserPerMinute: 1,
      maxCallsPerUser: 10,
      authorize: () => ({ allow: true, userId: 'u-7' }),
    });
    expect((await ep.handle(post({ address: '192.0.2.1' }))).status).toBe(201);
    const limited = await ep.handle(post({ address: '192.0.2.2' }));
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
  });

  it('caps the calls of one user: live calls in LiveKit and tokens not used yet', async () => {
    const { ep, clock, rooms } = endpoint({
      maxCallsPerUser: 2,
      authorize: (req) => ({ allow: true, userId: req.headers['x-user'] ?? 'nobody' }),
    });
    const as = (user: string) => post({ headers: { 'x-user': user } });
    const first = await ep.handle(as('ann'));
    const second = await ep.handle(as('ann'));
    expect([first.status, second.status]).toEqual([201, 201]);
    // Two tokens out, neither used yet: a third would be a third call.
    const third = await ep.handle(as('ann'));
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'too_many_calls' });
    expect(third.headers['retry-after']).toBe('30');
    expect((await ep.handle(as('bob'))).status).toBe(201); // another user
    // Both joined: LiveKit counts them now.
    const roomOf = async (body: unknown) => (await claimsOf(body)).video?.room ?? '';
    rooms.rooms.set(await roomOf(first.body), true);
    rooms.rooms.set(await roomOf(second.body), true);
    clock.now = 60_000; // the tokens expired, the calls go on
    expect((await ep.handle(as('ann'))).status).toBe(429);
    // One hung up (its room lingers a moment with only the agent): a seat is free.
    rooms.rooms.set(await roomOf(first.body), false);
    expect((await ep.handle(as('ann'))).status).toBe(201);
  });

  it('a token not used within its lifetime stops counting', async () => {
    const { ep, clock } = endpoint({ maxCallsPerUser: 1 });
    expect((await ep.handle(post())).status).toBe(201);
    expect((await ep.handle(post())).status).toBe(429);
    clock.now = 30_001;
    expect((await ep.handle(post())).status).toBe(201);
  });

  it('a call made and hung up between two requests stops counting once its room was seen', async () => {
    const { ep, rooms } = endpoint({ maxCallsPerUser: 2 });
    const roomOf = async (body: unknown) => (await claimsOf(body)).video?.room ?? '';
    // Two short calls, each joined and hung up (room deleted) before the next request.
    for (let call = 0; call < 2; call++) {
      const res = await ep.handle(post());
      expect(res.status).toBe(201);
      const room = await roomOf(res.body);
      rooms.rooms.set(room, true);
      await ep.checkPendingRooms(); // the watch's look while the call was up
      rooms.rooms.delete(room);
    }
    // The redial is a first call again, not a third.
    expect((await ep.handle(post())).status).toBe(201);
  });

  it('a call nobody saw (no look while it was up) keeps its token counted until it expires', async () => {
    const { ep, rooms, clock } = endpoint({ maxCallsPerUser: 1 });
    const first = await ep.handle(post());
    const room = (await claimsOf(first.body)).video?.room ?? '';
    rooms.rooms.set(room, true);
    rooms.rooms.delete(room);
    await ep.checkPendingRooms();
    expect((await ep.handle(post())).status).toBe(429);
    clock.now = 30_001;
    expect((await ep.handle(post())).status).toBe(201);
  });

  it('the watch looks until it is stopped, and a failed look does not end it', async () => {
    let lookups = 0;
    const { ep } = endpoint({
      userCalls: {
        callsOf: () => Promise.resolve({ rooms: new Set<string>(), live: 0 }),
        existing: () => {
          lookups++;
          return lookups === 1
            ? Promise.reject(new Error('connect ECONNREFUSED'))
            : Promise.resolve(new Set<string>());
        },
      },
    });
    expect((await ep.handle(post())).status).toBe(201); // one token pending: something to look for
    const stop = new AbortController();
    const waits: number[] = [];
    await ep.watchPendingRooms(stop.signal, 1_000, (ms) => {
      waits.push(ms);
      if (waits.length === 3) stop.abort();
      return Promise.resolve();
    });
    expect(lookups).toBe(3);
    expect(waits).toEqual([1_000, 1_000, 1_000]);
  });

  it('the watch asks LiveKit nothing while no token is pending', async () => {
    const { ep, rooms } = endpoint();
    await ep.checkPendingRooms();
    expect(rooms.lookups).toBe(0);
  });

  it('concurrent requests of one user pass the cap one at a time', async () => {
    const { ep } = endpoint({ maxCallsPerUser: 1 });
    const statuses = (await Promise.all([1, 2, 3, 4].map(() => ep.handle(post())))).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([201, 429, 429, 429]);
  });

  it('refuses with 503 when LiveKit cannot say how many calls the user has', async () => {
    const { ep } = endpoint({
      userCalls: {
        callsOf: () => Promise.reject(new Error('connect ECONNREFUSED')),
        existing: () => Promise.reject(new Error('connect ECONNREFUSED')),
      },
    });
    const res = await ep.handle(post());
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect((res.body as TokenRefusal).code).toBe('calls_unknown');
  });

  it.each([
    [
      'an agent not offered',
      { room_config: { agents: [{ agent_name: 'billing' }] } },
      403,
      'agent_not_offered',
    ],
    ['a malformed body', { participant_name: 42 }, 400, 'token_request_invalid'],
    ['no JSON at all', undefined, 400, 'token_request_invalid'],
  ] as const)('refuses %s', async (_name, body, status, code) => {
    const { ep } = endpoint();
    const res = await ep.handle(post({ body }));
    expect(res.status).toBe(status);
    expect((res.body as TokenRefusal).code).toBe(code);
  });
});
