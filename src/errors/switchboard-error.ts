/**
 * One error type for the whole package: a string code to branch on, whether retrying the same
 * operation can help, and a message that says how to fix the problem.
 */
export type SwitchboardErrorCode =
  | 'config_invalid'
  | 'livekit_unreachable'
  | 'livekit_auth_failed'
  | 'speech_server_unreachable'
  | 'stack_not_running'
  | 'stack_owned_elsewhere'
  | 'stack_needs_root'
  | 'stack_start_failed'
  | 'stack_options_invalid'
  | 'token_request_invalid'
  | 'agent_definition_invalid'
  | 'records_dir_unwritable'
  | 'record_sink_invalid'
  | 'outbound_request_invalid'
  | 'outbound_trunk_missing'
  | 'outbound_agent_missing'
  | 'campaign_list_invalid'
  | 'campaign_options_invalid'
  | 'campaign_state_conflict'
  | 'campaign_store_invalid'
  | 'campaign_trunk_refused'
  | 'campaign_dial_failed';

const BRAND = Symbol.for('switchboard.error');

export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;
  readonly retryable: boolean;
  readonly [BRAND] = true;

  constructor(
    code: SwitchboardErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchboardError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Works across duplicate copies of this module (ESM/CJS dual loading), unlike `instanceof`. */
export function isSwitchboardError(value: unknown): value is SwitchboardError {
  return typeof value === 'object' && value !== null && BRAND in value;
}
