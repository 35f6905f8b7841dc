import { z } from 'zod';
import { SwitchboardError } from '../errors/index.js';
import type { OutboundResult } from '../outbound/outcome.js';
import { isKnownTimeZone, parseCallingWindow, type CallingWindow } from './calling-hours.js';
import { E164_HINT, parseE164 } from './e164.js';

/**
 * How a campaign dials: pace, caps, calling hours, retries, when to give up on a trunk. Parsed
 * once, before anything is dialled; every bad option is named in one error, by its CLI flag.
 */

/** The option as the CLI spells it, for messages (the library's callers see both names). */
export const POLICY_FLAGS = {
  agentName: '--agent',
  trunk: '--trunk',
  from: '--from',
  concurrency: '--concurrency',
  rate: '--rate',
  window: '--window',
  timezone: '--timezone',
  maxAttempts: '--max-attempts',
  retryDelayMs: '--retry-delay-ms',
  retryBackoff: '--retry-backoff',
  maxRetryDelayMs: '--max-retry-delay-ms',
  trunkConcurrency: '--trunk-concurrency',
  untilMs: '--until',
  refusalsToStop: '--stop-after-refusals',
} as const;

/** Outcomes worth another attempt later: nobody was reached, and nobody said no. */
export const RETRIED_RESULTS: readonly OutboundResult[] = ['busy', 'no_answer'];

/** A number, or the text of one (as the CLI passes it). */
const numeric = (schema: z.ZodNumber) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    schema.refine(Number.isFinite, 'must be a finite number'),
  );

const trunkName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a trunk name: letters, digits, ".", "_", "-"');

export const CampaignPolicySchema = z
  .object({
    /** The agent (its worker's registered name) that talks on every call. */
    agentName: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'letters, digits, "-" and "_", at most 63')
      .default('switchboard'),
    /** Outbound trunk by name, for rows without their own. */
    trunk: trunkName.optional(),
    /** Caller ID for rows without their own. Default: the trunk's. */
    from: z
      .string()
      .transform((v, ctx) => {
        const number = parseE164(v);
        if (number === undefined) ctx.addIssue({ code: 'custom', message: E164_HINT });
        return number ?? v;
      })
      .optional(),
    /** Calls in progress at once, campaign-wide: a seat is held from the dial until the call ends. */
    concurrency: numeric(
      z
        .number()
        .int('must be a whole number')
        .min(1, 'must be at least 1 (the number of calls in progress at once)')
        .max(1_000),
    ).default(1),
    /** Calls started per second, at most; starts are spaced evenly (1000/rate ms apart). */
    rate: numeric(
      z
        .number()
        .gt(0, 'must be more than 0 (calls started per second; 0.5 is one call every 2 s)')
        .max(100),
    ).default(1),
    /** HH:MM-HH:MM in the callee's time zone; calls start only inside it. Default: any time. */
    window: z
      .string()
      .transform((v, ctx): CallingWindow => {
        const parsed = parseCallingWindow(v);
        if (typeof parsed === 'string') {
          ctx.addIssue({ code: 'custom', message: parsed });
          return z.NEVER;
        }
        return parsed;
      })
      .optional(),
    /** The callee's time zone for rows without one (IANA). */
    timezone: z
      .string()
      .refine(isKnownTimeZone, 'not an IANA time zone; use a name such as America/New_York')
      .default('UTC'),
    /** Attempts per row at most, the first included: 1 never retries. */
    maxAttempts: numeric(z.number().int('must be a whole number').min(1).max(20)).default(3),
    /** Wait after the first busy/no-answer before the next attempt. Unit: ms. */
    retryDelayMs: numeric(
      z
        .number()
        .int()
        .min(0)
        .max(7 * 24 * 3_600_000),
    ).default(300_000),
    /** Each further retry waits this many times longer than the one before. */
    retryBackoff: numeric(z.number().min(1).max(10)).default(2),
    /** The longest wait between attempts, whatever the backoff. Unit: ms. */
    maxRetryDelayMs: numeric(
      z
        .number()
        .int()
        .min(0)
        .max(7 * 24 * 3_600_000),
    ).default(3_600_000),
    /** Calls in progress at once per outbound trunk, by trunk name; "*" for every trunk. */
    trunkConcurrency: z
      .record(trunkName.or(z.literal('*')), numeric(z.number().int().min(1, 'must be at least 1')))
      .default({}),
    /** No call starts after this instant (ms since the epoch); a row whose window opens later is skipped. */
    untilMs: numeric(z.number().int()).optional(),
    /**
     * Consecutive attempts on one trunk answered SIP 403 or 503 that mean the trunk itself refuses
     * (credentials, caller ID, balance, capacity), not one callee: the campaign stops.
     */
    refusalsToStop: numeric(z.number().int().min(1).max(100)).default(3),
  })
  .strict();

export type CampaignPolicyInput = z.input<typeof CampaignPolicySchema>;
export type CampaignPolicy = z.output<typeof CampaignPolicySchema>;

export function parseCampaignPolicy(input: CampaignPolicyInput): CampaignPolicy {
  const parsed = CampaignPolicySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const [field, ...rest] = issue.path.map(String);
    const flag = POLICY_FLAGS[field as keyof typeof POLICY_FLAGS] as string | undefined;
    const name =
      field === undefined
        ? 'options'
        : `${flag ?? field}${rest.length > 0 ? ` ${rest.join('.')}` : ''} (${field})`;
    return `  ${name}: ${issue.message}`;
  });
  throw new SwitchboardError(
    'campaign_options_invalid',
    `Invalid campaign options; nothing was dialled. Fix them and run again:\n${problems.join('\n')}`,
  );
}

/** The cap on calls at once through `trunk`: its own, else "*", else the campaign's. */
export function trunkCapOf(policy: CampaignPolicy, trunk: string): number {
  return Math.min(
    policy.concurrency,
    policy.trunkConcurrency[trunk] ?? policy.trunkConcurrency['*'] ?? policy.concurrency,
  );
}
