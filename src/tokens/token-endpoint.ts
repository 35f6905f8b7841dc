import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RoomServiceClient } from 'livekit-server-sdk';
import { z } from 'zod';
import { isAgent, snapshotOf } from '../caller/index.js';
import type { TokenAuthorizer } from './authorize.js';
import { createParticipantToken, userRoomPrefix } from './participant-token.js';
import { RateLimiter } from './rate-limit.js';
import { refusal, WebGate, type WebHttpRequest } from './web-gate.js';

/**
 * The browser entrance's policy: who gets a token to call an agent, how often and how many calls
 * at once. Independent of the HTTP server (web/server.ts adapts it), so it is tested directly.
 *
 * In order, for `POST /api/token`:
 *   1. Origin: a browser request from a page not on the allow-list gets 403 (no Origin: not a
 *      browser page; the checks below still apply);
 *   2. the client address's rate (429 with Retry-After), counted before authorisation so that
 *      guessing credentials is limited too;
 *   3. the authorisation hook (401 or 403 with its reason);
 *   4. the agent asked for must be offered (403);
 *   5. the user's rate (429 with Retry-After);
 * (1 to 3 and 5 are the browser entrance's gate, web-gate.ts, which the callback endpoint shares)
 *   6. the user's calls at once (429): the calls LiveKit has with the user's caller in the room,
 *      plus the tokens this endpoint issued that have not been used yet and can still be.
 */
export interface TokenEndpointOptions {
  livekit: { url: string; apiKey: string; apiSecret: string };
  /** The agents offered; the first is the default. */
  agents: readonly [string, ...string[]];
  authorize: TokenAuthorizer;
  /** Origins whose pages may ask; undefined: only the endpoint's own origin (its Host). */
  allowedOrigins?: readonly string[];
  /** Unit: seconds. */
  tokenTtlSeconds: number;
  ratePerAddressPerMinute: number;
  ratePerUserPerMinute: number;
  maxCallsPerUser: number;
  /** Where a user's calls are looked up; default: the LiveKit server's rooms. */
  userCalls?: UserCallDirectory;
  /** Injected so tests control time. Unit: ms. */
  now?: () => number;
}

/** One request, as the HTTP server received it. */
export type TokenHttpRequest = WebHttpRequest;

export interface TokenHttpResponse {
  status: number;
  headers: Record<string, string>;
  body?: TokenIssued | TokenRefusal;
}

/** livekit-client's `TokenSource.endpoint` response. */
export interface TokenIssued {
  server_url: string;
  participant_token: string;
}

export type TokenRefusalCode =
  | 'token_request_invalid'
  | 'origin_not_allowed'
  | 'unauthorized'
  | 'forbidden'
  | 'agent_not_offered'
  | 'rate_limited'
  | 'too_many_calls'
  | 'calls_unknown'
  | 'method_not_allowed';

/** A refusal: `code` to branch on, `error` says what to do about it. */
export interface TokenRefusal {
  code: TokenRefusalCode;
  error: string;
}

/** A user's calls in LiveKit: the rooms with their prefix, and those the caller is in. */
export interface UserCallDirectory {
  callsOf(roomPrefix: string): Promise<{ rooms: ReadonlySet<string>; live: number }>;
  /** Which of `rooms` exist now. */
  existing(rooms: readonly string[]): Promise<ReadonlySet<string>>;
}

/**
 * Asks the LiveKit server: a call is live while a participant other than the agent is in its room
 * (a room whose caller left lingers a few seconds and is not counted).
 */
export function livekitUserCalls(livekit: {
  url: string;
  apiKey: string;
  apiSecret: string;
}): UserCallDirectory {
  const client = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    callsOf: async (prefix) => {
      const rooms = (await client.listRooms()).filter((r) => r.name.startsWith(prefix));
      const present = await Promise.all(
        rooms.map(async (r) =>
          (await client.listParticipants(r.name)).some((p) => {
            // A kind this version does not know is counted: only the agent is left out.
            const s = snapshotOf(p);
            return s === undefined || !isAgent(s);
          }),
        ),
      );
      return { rooms: new Set(rooms.map((r) => r.name)), live: present.filter(Boolean).length };
    },
    existing: async (names) =>
      names.length === 0
        ? new Set<string>()
        : new Set((await client.listRooms([...names])).map((r) => r.name)),
  };
}

/** How often the rooms of tokens not seen in use yet are looked for (`watchPendingRooms`). */
export const PENDING_ROOM_CHECK_MS = 1_000;

const TokenRequestBody = z
  .object({
    participant_name: z.string().max(64).optional(),
    // livekit-client's TokenSource sends the agent it asks for here (`agentName` option).
    room_config: z
      .object({
        agents: z
          .array(z.object({ agent_name: z.string().max(64).optional() }).loose())
          .max(1)
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

interface PendingToken {
  room: string;
  expiresAtMs: number;
}

export class TokenEndpoint {
  private readonly gate: WebGate;
  private readonly userCalls: UserCallDirectory;
  private readonly now: () => number;
  /** Tokens issued and not seen in use yet, by room prefix. */
  private readonly pending = new Map<string, PendingToken[]>();
  /** One check-and-issue at a time per user, so concurrent requests cannot pass the cap together. */
  private readonly userQueues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: TokenEndpointOptions) {
    this.now = opts.now ?? Date.now;
    this.gate = new WebGate({
      authorize: opts.authorize,
      ...(opts.allowedOrigins === undefined ? {} : { allowedOrigins: opts.allowedOrigins }),
      perAddress: new RateLimiter({ perMinute: opts.ratePerAddressPerMinute, now: this.now }),
      perUser: new RateLimiter({ perMinute: opts.ratePerUserPerMinute, now: this.now }),
      subject: { one: 'a token', many: 'tokens', requests: 'token requests' },
    });
    this.userCalls = opts.userCalls ?? livekitUserCalls(opts.livekit);
  }

  /** `POST /api/token` (and its CORS preflight, `OPTIONS`). */
  async handle(req: TokenHttpRequest): Promise<TokenHttpResponse> {
    const gate = await this.gate.admit(req);
    if (gate.reply !== undefined) return gate.reply;
    const { cors, userId, userKey } = gate.admitted;

    const body = TokenRequestBody.safeParse(req.body);
    if (!body.success)
      return refuse(
        400,
        'token_request_invalid',
        `invalid token request: ${z.prettifyError(body.error)}`,
        cors,
      );
    const asked = body.data.room_config?.agents?.[0]?.agent_name;
    const agentName = asked ?? this.opts.agents[0];
    if (!this.opts.agents.includes(agentName))
      return refuse(
        403,
        'agent_not_offered',
        `agent "${agentName}" is not offered here; ask for one of ${this.opts.agents.join(', ')} (WEB_AGENTS)`,
        cors,
      );

    const limited = this.gate.userRate(gate.admitted);
    if (limited !== undefined) return limited;

    const tag = this.roomTag(userKey);
    this.forgetExpired();
    return this.oneAtATime(tag, async () => {
      const prefix = userRoomPrefix(tag);
      let calls: Awaited<ReturnType<UserCallDirectory['callsOf']>>;
      try {
        calls = await this.userCalls.callsOf(prefix);
      } catch {
        // Without LiveKit's answer the cap cannot be checked: refuse rather than guess.
        return refuse(
          503,
          'calls_unknown',
          'could not ask LiveKit for the calls in progress; try again in a moment',
          { ...cors, 'retry-after': '5' },
        );
      }
      const now = this.now();
      // A token seen in use (its room exists) is counted by LiveKit from then on.
      const pending = (this.pending.get(tag) ?? []).filter(
        (p) => p.expiresAtMs > now && !calls.rooms.has(p.room),
      );
      if (calls.live + pending.length >= this.opts.maxCallsPerUser) {
        this.setPending(tag, pending);
        const soonest = Math.min(...pending.map((p) => p.expiresAtMs));
        return refuse(
          429,
          'too_many_calls',
          `this user already has ${this.opts.maxCallsPerUser} call(s) in progress or about to start (WEB_MAX_CALLS_PER_USER); hang one up first`,
          {
            ...cors,
            // Only an unused token's expiry is known; a live call ends when it ends.
            ...(calls.live === 0 && pending.length > 0
              ? { 'retry-after': String(Math.max(1, Math.ceil((soonest - now) / 1000))) }
              : {}),
          },
        );
      }
      const token = await createParticipantToken({
        apiKey: this.opts.livekit.apiKey,
        apiSecret: this.opts.livekit.apiSecret,
        agentName,
        ttlSeconds: this.opts.tokenTtlSeconds,
        roomTag: tag,
        ...(userId === undefined ? {} : { userId }),
        ...(body.data.participant_name === undefined
          ? {}
          : { displayName: body.data.participant_name }),
      });
      // Re-read after the await: the pending-room watch may have dropped a token seen in use.
      const still = (this.pending.get(tag) ?? []).filter((p) => pending.includes(p));
      this.setPending(tag, [
        ...still,
        { room: token.roomName, expiresAtMs: now + this.opts.tokenTtlSeconds * 1000 },
      ]);
      return {
        status: 201,
        headers: { ...cors, 'cache-control': 'no-store' },
        body: { server_url: this.opts.livekit.url, participant_token: token.token },
      };
    });
  }

  /**
   * Looks once for the rooms of tokens not seen in use yet: a token whose room exists is used, and
   * LiveKit counts its call from then on. Without this, a call made and hung up between two token
   * requests was never seen and its token counted against the user until it expired, refusing a
   * quick redial.
   */
  async checkPendingRooms(): Promise<void> {
    const now = this.now();
    const rooms = [...this.pending.values()]
      .flat()
      .filter((p) => p.expiresAtMs > now)
      .map((p) => p.room);
    if (rooms.length === 0) return;
    const existing = await this.userCalls.existing(rooms);
    if (existing.size === 0) return;
    for (const [tag, list] of this.pending)
      this.setPending(
        tag,
        list.filter((p) => !existing.has(p.room)),
      );
  }

  /**
   * `checkPendingRooms` every `intervalMs` until `signal` aborts; a failed look is tried again at
   * the next one (the token keeps counting meanwhile, which errs on the side of the cap).
   */
  async watchPendingRooms(
    signal: AbortSignal,
    intervalMs = PENDING_ROOM_CHECK_MS,
    wait: (ms: number, signal: AbortSignal) => Promise<void> = (ms, signal) =>
      sleep(ms, undefined, { signal }).catch(() => undefined),
  ): Promise<void> {
    while (!signal.aborted) {
      await this.checkPendingRooms().catch(() => undefined);
      await wait(intervalMs, signal);
    }
  }

  /** A user's rooms are `web-<tag>-…`: keyed with the API secret, so names reveal nobody. */
  private roomTag(userKey: string): string {
    return createHmac('sha256', this.opts.livekit.apiSecret)
      .update(userKey)
      .digest('hex')
      .slice(0, 16);
  }

  /** Users who never came back: their unused tokens have expired. */
  private forgetExpired(): void {
    if (this.pending.size < 1_000) return;
    const now = this.now();
    for (const [tag, list] of this.pending)
      if (list.every((p) => p.expiresAtMs <= now)) this.pending.delete(tag);
  }

  private setPending(tag: string, pending: PendingToken[]): void {
    if (pending.length === 0) this.pending.delete(tag);
    else this.pending.set(tag, pending);
  }

  private async oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.userQueues.get(key) ?? Promise.resolve();
    const run = before.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.userQueues.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.userQueues.get(key) === settled) this.userQueues.delete(key);
    }
  }
}

function refuse(
  status: number,
  code: TokenRefusalCode,
  error: string,
  headers: Record<string, string> = {},
): TokenHttpResponse {
  return refusal(status, code, error, headers);
}
