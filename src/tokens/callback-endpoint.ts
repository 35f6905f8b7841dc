import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { systemClock, type Clock } from '../call-records/clock.js';
import { maskPhoneNumber } from '../caller/phone-number.js';
import { E164_HINT, parseE164 } from '../campaigns/e164.js';
import { parseCampaignList, type CampaignList } from '../campaigns/list.js';
import { parseCampaignPolicy, type CampaignPolicy } from '../campaigns/policy.js';
import { runCampaign } from '../campaigns/runner.js';
import {
  campaignDir,
  CampaignStore,
  DEFAULT_CAMPAIGNS_DIR,
  type CampaignStateStore,
} from '../campaigns/store.js';
import { isSwitchboardError } from '../errors/index.js';
import type { OutboundDialer } from '../outbound/dialer.js';
import type { TokenAuthorizer } from './authorize.js';
import { RateLimiter } from './rate-limit.js';
import {
  refusal,
  WebGate,
  type GateRefusalCode,
  type WebHttpRequest,
  type WebHttpResponse,
  type WebRefusal,
} from './web-gate.js';

/**
 * Callbacks from the browser: `POST /api/callback` with `{"number": "+15550123", "agent"?: "…"}`
 * asks the agent to phone that number now. Every callback is a real call, paid for, to a number a
 * stranger may have typed, so besides the browser entrance's gate (web-gate.ts, as for a token)
 * the number itself is limited. An accepted request becomes a one-row campaign (src/campaigns),
 * run in the background: journalled like any campaign (the attempt is on disk before the dial, so
 * a server killed mid-call never dials that number again for it), retried once for busy or no
 * answer, never a do-not-call number.
 *
 * In order:
 *   0. callbacks configured (a trunk), else 404 `callbacks_disabled` naming WEB_CALLBACK_TRUNK;
 *      the server closing: 503 `closing`;
 *   1-3. the gate: 403 `origin_not_allowed`, 429 `rate_limited` (address), 401/403 (the hook);
 *   4. the body: 400 `callback_request_invalid` naming the field (`number`: E.164), and the agent,
 *      one of those offered: 403 `agent_not_offered`;
 *   5. the user's rate: 429 `rate_limited`;
 *   6. the do-not-call list: 403 `do_not_call`, nothing dialled (unreadable: 503
 *      `do_not_call_unknown`: no callback is placed unchecked);
 *   7. one callback per number at a time: 409 `callback_pending` while one to that number is
 *      under way (a conflict with the state, not a rate: no Retry-After, since nobody knows when
 *      the call ends);
 *   8. callbacks to the number in any 24 hours, whoever asks: 429 `rate_limited` with Retry-After;
 *   9. callbacks under way on this server: 503 `callbacks_busy` with Retry-After;
 * then 202 `{campaign, number}`, the number masked to its last two digits.
 */
export interface CallbackEndpointOptions {
  /** The outbound trunk callbacks are placed through, by name; undefined: callbacks are off. */
  trunk: string | undefined;
  /** The agent that calls back unless the request names another of `agents`. */
  agent: string;
  /** Other agents a request may name (the page's, WEB_AGENTS). */
  agents: readonly string[];
  dialer: OutboundDialer;
  authorize: TokenAuthorizer;
  /** Origins whose pages may ask; undefined: only the endpoint's own origin (its Host). */
  allowedOrigins?: readonly string[];
  ratePerAddressPerHour: number;
  ratePerUserPerHour: number;
  /** Callbacks to one number in any 24 hours, whoever asks. */
  perNumberPerDay: number;
  /** Callbacks under way at once on this server. Default 20. */
  maxInProgress?: number;
  /**
   * The do-not-call list, asked on every request (an entry added to the file counts from the next
   * request) and given to the campaign, which checks it again before the dial.
   */
  doNotCall?: () => ReadonlySet<string> | Promise<ReadonlySet<string>>;
  /** Where each callback's campaign state is kept. Default `.stack/campaigns`. */
  campaignsDir?: string;
  /** Opens a callback's campaign state. Default: the durable file store in `campaignsDir`. */
  openStore?: (name: string, nowMs: number) => Promise<ClosableCampaignStore>;
  /** Injected so tests control time (rates, the campaign's pacing and retries). */
  clock?: Clock;
  /** One line per event; campaigns by name, never a number. */
  log?: (line: string) => void;
}

export type ClosableCampaignStore = CampaignStateStore & { close: () => Promise<void> };

export type CallbackRefusalCode =
  | GateRefusalCode
  | 'callbacks_disabled'
  | 'closing'
  | 'callback_request_invalid'
  | 'agent_not_offered'
  | 'do_not_call'
  | 'do_not_call_unknown'
  | 'callback_pending'
  | 'callbacks_busy'
  | 'callback_unavailable';

export type CallbackRefusal = WebRefusal<CallbackRefusalCode>;

/** The answer to an accepted request. */
export interface CallbackAccepted {
  /** The campaign that places the call (`npm run campaign -- status --name <campaign>`). */
  campaign: string;
  /** The number to be called, masked to its last two digits. */
  number: string;
}

export type CallbackHttpResponse = WebHttpResponse<CallbackAccepted | CallbackRefusal>;

const DEFAULT_MAX_IN_PROGRESS = 20;
const DAY_MS = 24 * 3_600_000;
/** What a carrier routes (src/outbound/options.ts): 7 to 15 digits; parseE164 allows 6. */
const DIALLABLE = /^\+[1-9]\d{6,14}$/;
/** A context value's limit in the call options (src/dispatch/call-options.ts). */
const MAX_CONTEXT_CHARS = 500;

/**
 * How a callback dials. The person asked a moment ago, so no calling hours; a busy line or no
 * answer is tried once more a minute later (they may have been on the phone), then given up, so a
 * number is not held "pending" for long.
 */
const CALLBACK_POLICY = {
  concurrency: 1,
  rate: 1,
  maxAttempts: 2,
  retryDelayMs: 60_000,
} as const;

const CallbackRequestBody = z
  .object({
    number: z.string({
      error: (issue) =>
        issue.input === undefined
          ? 'missing: send the number to call back, e.g. {"number": "+15550123"}'
          : 'must be a string, e.g. "+15550123"',
    }),
    agent: z.string().max(64).optional(),
  })
  .loose();

interface Running {
  controller: AbortController;
  task: Promise<void>;
}

export class CallbackEndpoint {
  private readonly gate: WebGate;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly offered: readonly string[];
  private readonly maxInProgress: number;
  /** Numbers with a callback under way, to its campaign's name. */
  private readonly pending = new Map<string, string>();
  /** When each number's callbacks were accepted within the last day, oldest first. Unit: ms. */
  private readonly acceptedAtMs = new Map<string, number[]>();
  /** Every callback under way, by campaign name: close() aborts and awaits them. */
  private readonly running = new Map<string, Running>();
  private closing = false;

  constructor(private readonly opts: CallbackEndpointOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => undefined);
    this.maxInProgress = opts.maxInProgress ?? DEFAULT_MAX_IN_PROGRESS;
    const now = () => this.clock.nowMs();
    this.gate = new WebGate({
      authorize: opts.authorize,
      ...(opts.allowedOrigins === undefined ? {} : { allowedOrigins: opts.allowedOrigins }),
      perAddress: new RateLimiter({ perHour: opts.ratePerAddressPerHour, now }),
      perUser: new RateLimiter({ perHour: opts.ratePerUserPerHour, now }),
      subject: { one: 'a call back', many: 'calls back', requests: 'callback requests' },
    });
    this.offered = [...new Set([opts.agent, ...opts.agents])];
    // A trunk or agent name the campaign would refuse is a configuration error, found at start.
    if (opts.trunk !== undefined) this.policyFor(opts.agent);
  }

  /** Callbacks under way (accepted, their campaign not finished). */
  get inProgress(): number {
    return this.running.size;
  }

  /** `POST /api/callback` (and its CORS preflight, `OPTIONS`). */
  async handle(req: WebHttpRequest): Promise<CallbackHttpResponse> {
    const trunk = this.opts.trunk;
    if (trunk === undefined)
      return refuse(
        404,
        'callbacks_disabled',
        'this page offers no calls back: the server has no outbound trunk for them (set WEB_CALLBACK_TRUNK)',
      );
    const closing = this.closingRefusal({});
    if (closing !== undefined) return closing;

    const gate = await this.gate.admit(req);
    if (gate.reply !== undefined) return gate.reply;
    const { cors, userId } = gate.admitted;

    const body = CallbackRequestBody.safeParse(req.body ?? null);
    if (!body.success)
      return refuse(
        400,
        'callback_request_invalid',
        req.body === undefined || typeof req.body !== 'object' || req.body === null
          ? 'the request body must be a JSON object (at most 64 KiB), e.g. {"number": "+15550123"}'
          : `invalid callback request: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        cors,
      );
    const number = parseE164(body.data.number);
    if (number === undefined || !DIALLABLE.test(number))
      return refuse(
        400,
        'callback_request_invalid',
        `number: not a phone number we can call; ${E164_HINT}`,
        cors,
      );
    const agent = body.data.agent ?? this.opts.agent;
    if (!this.offered.includes(agent))
      return refuse(
        403,
        'agent_not_offered',
        `agent "${agent}" is not offered here; ask for one of ${this.offered.join(', ')} (WEB_CALLBACK_AGENT, WEB_AGENTS)`,
        cors,
      );

    const limited = this.gate.userRate(gate.admitted);
    if (limited !== undefined) return limited;

    let doNotCall: ReadonlySet<string>;
    try {
      doNotCall = (await this.opts.doNotCall?.()) ?? new Set<string>();
    } catch (err) {
      this.log(`callback refused: the do-not-call list could not be read (${describe(err)})`);
      return refuse(
        503,
        'do_not_call_unknown',
        'the do-not-call list could not be read, and no call back is placed unchecked; try again later',
        { ...cors, 'retry-after': '60' },
      );
    }
    // close() may have come during the awaits above; likewise below.
    const closingNow = this.closingRefusal(cors);
    if (closingNow !== undefined) return closingNow;
    // From here to the reservation nothing awaits: two requests for one number cannot both pass.
    const refused = this.numberRefusal(number, doNotCall, cors);
    if (refused !== undefined) return refused;

    const nowMs = this.clock.nowMs();
    const name = callbackName(nowMs);
    this.reserve(number, name, nowMs);
    let store: ClosableCampaignStore;
    try {
      store = await this.openStore(name, nowMs);
    } catch (err) {
      this.unreserve(number, nowMs);
      this.log(`callback ${name}: not started, its state could not be opened (${describe(err)})`);
      return refuse(
        503,
        'callback_unavailable',
        'the call back could not be recorded on this server; try again later',
        { ...cors, 'retry-after': '60' },
      );
    }
    const closedMeanwhile = this.closingRefusal(cors);
    if (closedMeanwhile !== undefined) {
      this.unreserve(number, nowMs);
      await store.close().catch(() => undefined);
      return closedMeanwhile;
    }
    this.start(name, number, this.listFor(name, number, userId), this.policyFor(agent), {
      store,
      doNotCall,
    });
    this.log(`callback ${name}: accepted (agent ${agent}, trunk ${trunk})`);
    return {
      status: 202,
      headers: { ...cors, 'cache-control': 'no-store' },
      body: { campaign: name, number: maskPhoneNumber(number) },
    };
  }

  /** Resolves once every callback under way has finished (tests; a server draining). */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.task));
  }

  /**
   * Refuses further requests, aborts every callback under way (no further dial starts; the
   * dialer hangs up the calls it is placing) and waits for each campaign to record how it ended.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const r of this.running.values()) r.controller.abort();
    await this.whenIdle();
  }

  /** Once close() has been called, every request is refused. */
  private closingRefusal(cors: Record<string, string>): CallbackHttpResponse | undefined {
    if (!this.closing) return undefined;
    return refuse(503, 'closing', 'the server is shutting down; try again in a moment', {
      ...cors,
      'retry-after': '5',
    });
  }

  /** Steps 6 to 9: what the number and the server allow. */
  private numberRefusal(
    number: string,
    doNotCall: ReadonlySet<string>,
    cors: Record<string, string>,
  ): CallbackHttpResponse | undefined {
    if (doNotCall.has(number))
      return refuse(
        403,
        'do_not_call',
        'this number is on the do-not-call list; it is not called back',
        cors,
      );
    if (this.pending.has(number))
      return refuse(
        409,
        'callback_pending',
        'a call back to this number is already under way; wait for it',
        cors,
      );
    const nowMs = this.clock.nowMs();
    const recent = this.recentAccepts(number, nowMs);
    if (recent.length >= this.opts.perNumberPerDay) {
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((recent[0] ?? nowMs) + DAY_MS - nowMs) / 1000),
      );
      return refuse(
        429,
        'rate_limited',
        `this number has been called back ${recent.length} time(s) in the last 24 hours, the most allowed (WEB_CALLBACK_PER_NUMBER_PER_DAY); try again in ${retryAfterSeconds} s`,
        { ...cors, 'retry-after': String(retryAfterSeconds) },
      );
    }
    if (this.running.size >= this.maxInProgress)
      return refuse(
        503,
        'callbacks_busy',
        `${this.running.size} calls back are under way on this server, the most it places at once; try again in a minute`,
        { ...cors, 'retry-after': '60' },
      );
    return undefined;
  }

  /** The number's accepts within the last 24 hours (older ones forgotten), oldest first. */
  private recentAccepts(number: string, nowMs: number): number[] {
    const recent = (this.acceptedAtMs.get(number) ?? []).filter((at) => at > nowMs - DAY_MS);
    if (recent.length === 0) this.acceptedAtMs.delete(number);
    else this.acceptedAtMs.set(number, recent);
    if (this.acceptedAtMs.size > 10_000) this.forgetOldAccepts(nowMs);
    return recent;
  }

  private forgetOldAccepts(nowMs: number): void {
    for (const [number, times] of this.acceptedAtMs)
      if (times.every((at) => at <= nowMs - DAY_MS)) this.acceptedAtMs.delete(number);
  }

  private reserve(number: string, name: string, nowMs: number): void {
    this.pending.set(number, name);
    this.acceptedAtMs.set(number, [...this.recentAccepts(number, nowMs), nowMs]);
  }

  /** The callback never started: neither pending nor counted. */
  private unreserve(number: string, nowMs: number): void {
    this.pending.delete(number);
    const times = this.acceptedAtMs.get(number) ?? [];
    const at = times.lastIndexOf(nowMs);
    if (at !== -1) times.splice(at, 1);
  }

  private openStore(name: string, nowMs: number): Promise<ClosableCampaignStore> {
    if (this.opts.openStore !== undefined) return this.opts.openStore(name, nowMs);
    const dir = campaignDir(this.opts.campaignsDir ?? DEFAULT_CAMPAIGNS_DIR, name);
    return CampaignStore.open(dir, name, nowMs);
  }

  private policyFor(agentName: string): CampaignPolicy {
    return parseCampaignPolicy({ ...CALLBACK_POLICY, agentName, trunk: this.opts.trunk });
  }

  /**
   * The one row: the number, and that the web user asked for it (their id, never the address),
   * both kept with the row and given to the agent as the call's context (`call.options.context`).
   */
  private listFor(name: string, number: string, userId: string | undefined): CampaignList {
    const context = {
      requestedFrom: 'web_callback',
      // A longer id does not fit the call options' context; the call goes on without it.
      ...(userId === undefined || userId.length > MAX_CONTEXT_CHARS ? {} : { webUserId: userId }),
    };
    const row = { id: 'callback', number, metadata: context, callOptions: { context } };
    return parseCampaignList(`${JSON.stringify(row)}\n`, 'jsonl', `web-callback-${name}`);
  }

  /** Runs the callback's campaign in the background, owned: close() aborts and awaits it. */
  private start(
    name: string,
    number: string,
    list: CampaignList,
    policy: CampaignPolicy,
    deps: { store: ClosableCampaignStore; doNotCall: ReadonlySet<string> },
  ): void {
    const controller = new AbortController();
    const task = this.run(name, list, policy, deps, controller.signal).finally(() => {
      this.running.delete(name);
      if (this.pending.get(number) === name) this.pending.delete(number);
    });
    this.running.set(name, { controller, task });
  }

  /** Never rejects: how the campaign ended is logged (by name and code; no number). */
  private async run(
    name: string,
    list: CampaignList,
    policy: CampaignPolicy,
    deps: { store: ClosableCampaignStore; doNotCall: ReadonlySet<string> },
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const result = await runCampaign({
        list,
        policy,
        store: deps.store,
        dialer: this.opts.dialer,
        doNotCall: deps.doNotCall,
        clock: this.clock,
        signal,
        log: (line) => this.log(`callback ${name}: ${line}`),
      });
      const row = result.status.rows[0];
      this.log(
        `callback ${name}: ${result.ending}${result.stopReason === undefined ? '' : ` (${result.stopReason.code})`}; ${row?.state ?? 'not dialled'} after ${row?.attempts ?? 0} attempt(s)`,
      );
    } catch (err) {
      this.log(`callback ${name}: failed (${describe(err)})`);
    } finally {
      await deps.store.close().catch((err: unknown) => {
        this.log(`callback ${name}: its state could not be closed (${describe(err)})`);
      });
    }
  }
}

/** `callback-20260302T150000Z-3fa9c1`: when, and a random part so names never collide. */
export function callbackName(nowMs: number): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `callback-${stamp}-${randomBytes(3).toString('hex')}`;
}

function refuse(
  status: number,
  code: CallbackRefusalCode,
  error: string,
  headers: Record<string, string> = {},
): CallbackHttpResponse {
  return refusal(status, code, error, headers);
}

/** An error's code and message for the log; campaign and dialer messages never hold a number. */
function describe(err: unknown): string {
  if (isSwitchboardError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
