import { z } from 'zod';
import { TextInputOptionsSchema } from '../call/text-input.js';
import { OutboundOptionsSchema } from '../outbound/options.js';
import { TransferOptionsSchema } from '../transfer/options.js';
import { TurnTakingOverridesSchema } from '../turns/index.js';

/**
 * Per-call options carried in the dispatch's agent metadata (a dispatch rule's
 * `room_config.agents[].metadata`, or the web token's room configuration), as JSON.
 */
export const CallOptionsSchema = z
  .object({
    /** The agent says goodbye and hangs up after this long. Unit: ms. Default: no limit. */
    maxCallDurationMs: z
      .number()
      .int()
      .min(1_000)
      .max(24 * 3_600_000)
      .optional(),
    /** Silence (caller and agent quiet) before the agent prompts; a second one ends the call. Unit: ms. Default: 15000. */
    silenceTimeoutMs: z.number().int().min(1_000).max(600_000).optional(),
    /** Where this line's calls may be transferred (see src/transfer/options.ts). Default: no transfers. */
    transfer: TransferOptionsSchema.optional(),
    /** This line's changes to the channel's turn-taking (src/turns/turn-taking.ts). */
    turnTaking: TurnTakingOverridesSchema.optional(),
    /** Typed chat messages from the caller become turns, each at most maxChars long. Default: off. */
    textInput: TextInputOptionsSchema.optional(),
    /**
     * Facts about this call for the agent's instructions and tools (`call.options.context`): a
     * campaign row's columns (the callee's name, the appointment), a web page's context. At most
     * 50 keys; text values at most 500 characters.
     */
    context: z
      .record(z.string().min(1).max(64), z.union([z.string().max(500), z.number(), z.boolean()]))
      .refine((c) => Object.keys(c).length <= 50, { message: 'at most 50 keys' })
      .optional(),
    /** This call is one the agent places: it dials this number (src/outbound/options.ts). */
    outbound: OutboundOptionsSchema.optional(),
  })
  .strict();

export type CallOptions = z.infer<typeof CallOptionsSchema>;

export type CallOptionsResult = { ok: true; options: CallOptions } | { ok: false; error: string };

export function parseCallOptions(metadata: string | undefined): CallOptionsResult {
  if (metadata === undefined || metadata.trim() === '') return { ok: true, options: {} };
  let json: unknown;
  try {
    json = JSON.parse(metadata);
  } catch {
    return {
      ok: false,
      error: 'agent metadata is not JSON; expected e.g. {"maxCallDurationMs": 600000}',
    };
  }
  const parsed = CallOptionsSchema.safeParse(json);
  return parsed.success
    ? { ok: true, options: parsed.data }
    : { ok: false, error: `agent metadata is invalid: ${z.prettifyError(parsed.error)}` };
}

/** One problem in a line's call options: where in the options (e.g. ['transfer', 'human']) and what. */
export interface CallOptionsIssue {
  path: (string | number)[];
  message: string;
}

const KNOWN_OPTIONS = Object.keys(CallOptionsSchema.shape);

/**
 * Every problem in dispatch metadata (JSON text, or the object sip-dispatch sends as JSON), each
 * at its path: what `sip-dispatch validate` reports for a rule's agent metadata, so a typo such as
 * `maxCallDurationMS` is caught before a call, not ignored during one.
 */
export function callOptionsIssues(metadata: unknown): CallOptionsIssue[] {
  if (metadata === undefined) return [];
  let json: unknown = metadata;
  if (typeof metadata === 'string') {
    if (metadata.trim() === '') return [];
    try {
      json = JSON.parse(metadata) as unknown;
    } catch {
      return [
        {
          path: [],
          message:
            'agent metadata is not JSON; expected the call options, e.g. {"maxCallDurationMs": 600000}',
        },
      ];
    }
  }
  const parsed = CallOptionsSchema.safeParse(json);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((issue): CallOptionsIssue[] => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code !== 'unrecognized_keys') return [{ path, message: issue.message }];
    return issue.keys.map((key) => {
      const near =
        path.length === 0
          ? KNOWN_OPTIONS.find((k) => k.toLowerCase() === key.toLowerCase())
          : undefined;
      return {
        path: [...path, key],
        message: `"${key}" is not a call option${near === undefined ? '' : `; did you mean "${near}"?`}${path.length === 0 ? ` (the options are ${KNOWN_OPTIONS.join(', ')})` : ''}`,
      };
    });
  });
}

export type ResolvedCallOptions =
  { ok: true; options: CallOptions } | { ok: false; error: string; options: CallOptions };

/**
 * The options of one call: the agent's per-line defaults, overridden field by field by the
 * dispatch metadata. Invalid metadata is `ok: false` with why; a call must then fail closed (not
 * run with the defaults, which may lack the line's time limit or transfer restrictions), logging
 * the error with the caller's trunk and dispatch rule (`Caller.trunkId`, `Caller.dispatchRuleId`) so
 * the operator finds the line. `options` is the defaults,
 * for what the refusal itself needs (e.g. the goodbye).
 */
export function resolveCallOptions(
  defaults: CallOptions,
  metadata: string | undefined,
): ResolvedCallOptions {
  const base = CallOptionsSchema.parse(defaults);
  const parsed = parseCallOptions(metadata);
  if (!parsed.ok) return { ok: false, error: parsed.error, options: base };
  // Only the fields the line sets: an absent field keeps the agent's default.
  const overrides: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.options) as [string, unknown][])
    if (value !== undefined) overrides[key] = value;
  return { ok: true, options: { ...base, ...overrides } };
}
