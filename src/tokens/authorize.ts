import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SwitchboardError } from '../errors/index.js';

/**
 * The authorisation hook of the token endpoint: your application decides who may call, from the
 * request (a session cookie, a bearer token), and names the user, so that limits apply per user.
 */
export interface TokenRequestContext {
  /** The client's address, as the endpoint sees it (a proxy's, behind one). */
  address: string;
  /** The `Origin` header, when a browser sent one (already checked against the allow-list). */
  origin?: string;
  /** The request's headers, by lower-case name. */
  headers: Readonly<Record<string, string | undefined>>;
}

export type AuthorizationResult =
  /**
   * `userId` keys the per-user limits and becomes the participant's `user.id` attribute (the web
   * caller's `userId`); without it the caller is anonymous and keyed by address.
   */
  | { allow: true; userId?: string }
  /** 401 (default: not authenticated) or 403 (authenticated, not allowed); `reason` is sent back. */
  | { allow: false; status?: 401 | 403; reason: string };

export type TokenAuthorizer = (
  request: TokenRequestContext,
) => AuthorizationResult | Promise<AuthorizationResult>;

/** Anyone who reaches the endpoint gets a token (within the limits): the demo's open mode. */
export const openAccess: TokenAuthorizer = () => ({ allow: true });

/**
 * Loads an authorizer from a module (`WEB_AUTH_MODULE`): its `authorize` export, or its default
 * export. A relative path is taken from the working directory.
 */
export async function loadAuthorizer(modulePath: string): Promise<TokenAuthorizer> {
  let mod: { authorize?: unknown; default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(modulePath)).href)) as typeof mod;
  } catch (err) {
    throw new SwitchboardError(
      'config_invalid',
      `WEB_AUTH_MODULE: could not load ${modulePath} (${(err as Error).message}). Point it at a module that exports authorize(request) => { allow, userId }.`,
      { cause: err },
    );
  }
  const fn = mod.authorize ?? mod.default;
  if (typeof fn !== 'function')
    throw new SwitchboardError(
      'config_invalid',
      `WEB_AUTH_MODULE: ${modulePath} exports no function named authorize and no default function. Export authorize(request) => { allow: true, userId } | { allow: false, reason }.`,
    );
  return fn as TokenAuthorizer;
}
