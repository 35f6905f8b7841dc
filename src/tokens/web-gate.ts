import type { TokenAuthorizer } from './authorize.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * The checks every endpoint of the browser entrance makes, the same way, before it looks at what
 * is asked for (a token: token-endpoint.ts; a call back: callback-endpoint.ts):
 *   1. Origin: a browser request from a page not on the allow-list gets 403 (no Origin: not a
 *      browser page; the checks below still apply); an allowed one gets CORS headers, and its
 *      preflight (OPTIONS) is answered here;
 *   2. the client address's rate (429 with Retry-After), counted before authorisation so that
 *      guessing credentials is limited too;
 *   3. the authorisation hook (401 or 403 with its reason);
 * and, once the endpoint has read the request, `userRate`:
 *   4. the user's rate (429 with Retry-After); an anonymous caller is one user per address.
 */

/** One request, as the HTTP server received it. */
export interface WebHttpRequest {
  method: string;
  /** The client's address (the socket's peer). */
  address: string;
  /** By lower-case name, as node:http gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body; undefined when it was not JSON or too large. */
  body?: unknown;
}

export interface WebHttpResponse<Body> {
  status: number;
  headers: Record<string, string>;
  body?: Body;
}

/** A refusal: `code` to branch on, `error` says what to do about it. */
export interface WebRefusal<Code extends string> {
  code: Code;
  error: string;
}

export type GateRefusalCode =
  'origin_not_allowed' | 'method_not_allowed' | 'rate_limited' | 'unauthorized' | 'forbidden';

export interface WebGateOptions {
  authorize: TokenAuthorizer;
  /** Origins whose pages may ask; undefined: only the endpoint's own origin (its Host). */
  allowedOrigins?: readonly string[];
  perAddress: RateLimiter;
  perUser: RateLimiter;
  /** What the endpoint gives, for its messages: e.g. "a token", "tokens", "token requests". */
  subject: { one: string; many: string; requests: string };
}

/** A request that passed steps 1 to 3. */
export interface Admitted {
  /** The CORS headers every answer to this request carries. */
  cors: Record<string, string>;
  origin?: string;
  /** The hook's user, when it named one. */
  userId?: string;
  /** The per-user key: the hook's user, or the client address for an anonymous caller. */
  userKey: string;
}

export type GateDecision =
  | { admitted: Admitted; reply?: never }
  /** A refusal, or the answer to a preflight: send it as it is. */
  | { reply: WebHttpResponse<WebRefusal<GateRefusalCode>>; admitted?: never };

export class WebGate {
  constructor(private readonly opts: WebGateOptions) {}

  /** Steps 1 to 3: Origin (and preflight), method, the address's rate, the authorisation hook. */
  async admit(req: WebHttpRequest): Promise<GateDecision> {
    const { subject } = this.opts;
    const origin = header(req.headers, 'origin');
    const cors: Record<string, string> =
      origin === undefined ? {} : { 'access-control-allow-origin': origin, vary: 'Origin' };
    if (origin !== undefined && !this.originAllowed(origin, header(req.headers, 'host')))
      return {
        reply: refusal(
          403,
          'origin_not_allowed',
          `pages from ${origin} may not ask for ${subject.many} here; add the origin to WEB_ALLOWED_ORIGINS`,
          { vary: 'Origin' },
        ),
      };
    if (req.method === 'OPTIONS')
      return {
        reply: {
          status: 204,
          headers: {
            ...cors,
            'access-control-allow-methods': 'POST',
            'access-control-allow-headers': 'content-type, authorization',
            'access-control-max-age': '600',
          },
        },
      };
    if (req.method !== 'POST')
      return {
        reply: refusal(405, 'method_not_allowed', `ask for ${subject.one} with POST`, {
          ...cors,
          allow: 'POST, OPTIONS',
        }),
      };

    const byAddress = this.opts.perAddress.take(req.address);
    if (!byAddress.allowed)
      return {
        reply: refusal(
          429,
          'rate_limited',
          `too many ${subject.requests} from this address; try again in ${byAddress.retryAfterSeconds} s`,
          { ...cors, 'retry-after': String(byAddress.retryAfterSeconds) },
        ),
      };

    const auth = await this.opts.authorize({
      address: req.address,
      ...(origin === undefined ? {} : { origin }),
      headers: flatHeaders(req.headers),
    });
    if (!auth.allow) {
      const status = auth.status ?? 401;
      return {
        reply: refusal(status, status === 401 ? 'unauthorized' : 'forbidden', auth.reason, {
          ...cors,
          ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
        }),
      };
    }
    return {
      admitted: {
        cors,
        ...(origin === undefined ? {} : { origin }),
        ...(auth.userId === undefined ? {} : { userId: auth.userId }),
        // Anonymous callers (open mode, or a hook that names nobody) are one user per address.
        userKey: auth.userId === undefined ? `address:${req.address}` : `user:${auth.userId}`,
      },
    };
  }

  /** Step 4: the user's rate; undefined when the request may go on. */
  userRate(admitted: Admitted): WebHttpResponse<WebRefusal<'rate_limited'>> | undefined {
    const byUser = this.opts.perUser.take(admitted.userKey);
    if (byUser.allowed) return undefined;
    return refusal(
      429,
      'rate_limited',
      `too many ${this.opts.subject.requests} for this user; try again in ${byUser.retryAfterSeconds} s`,
      { ...admitted.cors, 'retry-after': String(byUser.retryAfterSeconds) },
    );
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.opts.allowedOrigins !== undefined) return this.opts.allowedOrigins.includes(origin);
    // Same origin: the page this endpoint serves (scheme left out: a TLS proxy in front).
    return URL.canParse(origin) && host !== undefined && new URL(origin).host === host;
  }
}

export function refusal<Code extends string>(
  status: number,
  code: Code,
  error: string,
  headers: Record<string, string> = {},
): WebHttpResponse<WebRefusal<Code>> {
  return { status, headers, body: { code, error } };
}

function header(headers: WebHttpRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function flatHeaders(headers: WebHttpRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
