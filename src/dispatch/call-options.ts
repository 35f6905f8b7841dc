import { z } from 'zod';
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

export type ResolvedCallOptions =
  { ok: true; options: CallOptions } | { ok: false; error: string; options: CallOptions };

/**
 * The options of one call: the agent's per-line defaults, overridden field by field by the
 * dispatch metadata. Invalid metadata leaves the defaults in force and says why.
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
