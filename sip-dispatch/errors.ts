import type { Problem } from './problems.js';

export type SipDispatchErrorCode =
  /** The file does not parse or validate; `problems` lists every issue. Exit code 2. */
  | 'sip_config_invalid'
  /** A secret the config names by variable is not set. Exit code 2. */
  | 'sip_secret_missing'
  /** The server refused a change or could not be reached midway; see ApplyError. Exit code 1. */
  | 'sip_apply_failed'
  /** The server could not be read. Exit code 1. */
  | 'sip_server_unavailable'
  /**
   * prune (or apply --prune) would delete all or most of what it could, as an empty or truncated
   * file does; nothing was changed. Run again with --confirm-destroy if that is meant. Exit code 2.
   */
  | 'sip_destructive_unconfirmed';

/** sip-dispatch's typed error: a code to branch on and a message that says how to fix it. */
export class SipDispatchError extends Error {
  readonly code: SipDispatchErrorCode;
  readonly retryable: boolean;
  readonly problems: readonly Problem[];

  constructor(
    code: SipDispatchErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; problems?: readonly Problem[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SipDispatchError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.problems = options.problems ?? [];
  }
}
