import type { llm } from '@livekit/agents';
import type { Caller } from '../caller/index.js';
import type { CallOptions } from '../dispatch/index.js';
import type { DigitCollectorOptions, DigitResult } from '../dtmf/index.js';
import { SwitchboardError } from '../errors/index.js';
import type { TransferToolResult } from '../transfer/index.js';

/** Values a tool may attach to the call record (`annotations`): booking references, topics. */
export type Annotation = string | number | boolean;

export interface CollectDigitsRequest extends DigitCollectorOptions {
  /** Said before the first attempt. */
  prompt: string;
  /** Said before each later attempt. Default: the prompt. */
  reprompt?: string;
  /** Tries before giving up. Default: 2. */
  attempts?: number;
  /** Fewer digits than this count as nothing typed. Default: 1. */
  minDigits?: number;
}

export type CollectDigitsResult = (DigitResult & { attempts: number }) | { status: 'no_keypad' };

/**
 * One call, as the agent's tools see it: who is calling, this line's options, and what a tool may
 * do to the call. Reached from any `llm.tool` through `callOf(ctx)`.
 */
export interface Call {
  /** The agent job's ID: the call record's `callId`. */
  readonly id: string;
  readonly room: string;
  /** The caller as they are now (livekit-sip keeps updating a phone caller's attributes). */
  readonly caller: Caller;
  /** This line's options: the agent's defaults overridden by the dispatch metadata. */
  readonly options: Readonly<CallOptions>;
  /** Aborted when the call ends: the caller hung up, the agent ended it, or the job shuts down. */
  readonly signal: AbortSignal;
  /** Speaks a line and resolves once it has played (or was interrupted). */
  say(text: string, opts?: { allowInterruptions?: boolean }): Promise<void>;
  /** Says `goodbye` (unless empty), then hangs up: BYE to a phone, disconnect to a browser. */
  endCall(opts?: { goodbye?: string; reason?: string }): Promise<void>;
  /** DTMF from the phone keypad with prompts and retries; a browser caller has no keypad. */
  collectDigits(request: CollectDigitsRequest): Promise<CollectDigitsResult>;
  /** RFC 4733 tones on a phone caller's line (e.g. an extension for an IVR). */
  sendTones(
    digits: string,
  ): Promise<{ sent: string } | { error: 'no_phone_line' | 'invalid_digits' }>;
  /**
   * Warm transfer to the line's configured human (hold, brief, hand over). `not_configured` on a
   * line without one.
   */
  transferToHuman(reason: string): Promise<TransferToolResult>;
  /** Cold transfer (REFER) to the line's configured target. */
  transferCold(): Promise<TransferToolResult>;
  /** Adds values to the call record's `annotations` (no phone numbers or secrets here). */
  annotate(values: Readonly<Record<string, Annotation>>): void;
}

const CALL = Symbol.for('switchboard.call');

/** Marks an object as the session's `Call` (the session's `userData`). */
export function brandCall<T extends Call>(call: T): T {
  Object.defineProperty(call, CALL, { value: true });
  return call;
}

/**
 * The call a tool runs in: `execute: async (args, { ctx }) => { const call = callOf(ctx); ... }`.
 * Throws outside a call built by `defineCallAgent` (a tool reused in a plain AgentSession).
 */
export function callOf(ctx: llm.ToolOptions['ctx'] | { userData: unknown }): Call {
  let data: unknown;
  try {
    data = ctx.userData;
  } catch {
    data = undefined;
  }
  if (typeof data === 'object' && data !== null && CALL in data) return data as unknown as Call;
  throw new SwitchboardError(
    'agent_definition_invalid',
    'callOf(ctx): this tool runs outside a switchboard call. Give it to defineCallAgent({ tools }) instead of a plain AgentSession.',
  );
}
