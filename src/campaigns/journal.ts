import { z } from 'zod';
import { OUTBOUND_RESULTS } from '../outbound/outcome.js';

/**
 * The campaign's journal: what happened, one JSON line per entry, appended and synced to disk in
 * order. It names rows by id and never holds a full phone number (the list does).
 */
const base = { atMs: z.number() };
const attempt = { ...base, rowId: z.string(), attempt: z.number().int().min(1) };

/** Why a row is not dialled in a run. */
export const SKIP_REASONS = ['do_not_call', 'duplicate'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Why a row was put off in a run: it may still be dialled by a later run. */
export const DEFER_REASONS = ['outside_calling_hours', 'campaign_ended'] as const;
export type DeferReason = (typeof DEFER_REASONS)[number];

export const JournalEntrySchema = z.discriminatedUnion('type', [
  /** A run of the campaign began: the rows it works on and the rules it follows. */
  z.object({
    type: z.literal('run'),
    ...base,
    pid: z.number().int(),
    listFile: z.string(),
    listDigest: z.string(),
    hasIds: z.boolean(),
    rows: z.array(z.object({ id: z.string(), masked: z.string(), trunk: z.string() })),
    skipped: z.array(
      z.object({
        rowId: z.string(),
        reason: z.enum(SKIP_REASONS),
        duplicateOf: z.string().optional(),
      }),
    ),
    maxAttempts: z.number().int(),
    retryDelayMs: z.number(),
    retryBackoff: z.number(),
    maxRetryDelayMs: z.number(),
  }),
  /** Written and synced before the dial: an attempt is used from here on, whatever follows. */
  z.object({ type: z.literal('started'), ...attempt, trunk: z.string() }),
  /**
   * The call's room, once the dialer has made it: a later run, after a kill, waits for a call
   * still up there before it fills that seat (a kill leaves calls up).
   */
  z.object({ type: z.literal('placed'), ...attempt, room: z.string() }),
  /** How the dial ended. */
  z.object({
    type: z.literal('outcome'),
    ...attempt,
    result: z.enum(OUTBOUND_RESULTS),
    sipStatus: z.number().int().optional(),
    ringingMs: z.number().optional(),
    detail: z.string(),
    room: z.string().optional(),
  }),
  /** Found started without an outcome at the next run (the process was killed): outcome unknown. */
  z.object({ type: z.literal('interrupted'), ...attempt, detail: z.string() }),
  /** The dialer refused the request before dialling (no such trunk, LiveKit down): not a call. */
  z.object({ type: z.literal('not_placed'), ...attempt, code: z.string(), detail: z.string() }),
  z.object({
    type: z.literal('deferred'),
    ...base,
    rowId: z.string(),
    reason: z.enum(DEFER_REASONS),
    detail: z.string(),
  }),
  /** The run stopped before the list was done (a trunk refused, the dialer failed, Ctrl-C). */
  z.object({ type: z.literal('stopped'), ...base, code: z.string(), reason: z.string() }),
  /** The run had nothing left to do. */
  z.object({ type: z.literal('finished'), ...base }),
]);

export type JournalEntry = z.infer<typeof JournalEntrySchema>;
export type RunEntry = Extract<JournalEntry, { type: 'run' }>;
export type StartedEntry = Extract<JournalEntry, { type: 'started' }>;
export type OutcomeEntry = Extract<JournalEntry, { type: 'outcome' }>;
/** An entry that closes an attempt. */
export type AttemptEndEntry = Extract<
  JournalEntry,
  { type: 'outcome' | 'interrupted' | 'not_placed' }
>;

/** One line of results.jsonl: one per attempt, for whoever reads the campaign's results. */
export interface ResultLine {
  campaign: string;
  rowId: string;
  attempt: number;
  result: OutcomeEntry['result'] | 'interrupted' | 'not_placed';
  sipStatus?: number;
  detail: string;
  trunk: string;
  room?: string;
  /** ISO 8601. The dial began. */
  startedAt: string;
  /** ISO 8601. The outcome was known. */
  decidedAt: string;
  /** ISO 8601. The call was over (absent when the campaign did not see it end). */
  endedAt?: string;
  ringingMs?: number;
}

export function resultLineOf(
  campaign: string,
  started: StartedEntry,
  end: AttemptEndEntry,
  endedAtMs?: number,
): ResultLine {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    campaign,
    rowId: started.rowId,
    attempt: started.attempt,
    result: end.type === 'outcome' ? end.result : end.type,
    ...(end.type === 'outcome' && end.sipStatus !== undefined ? { sipStatus: end.sipStatus } : {}),
    detail: end.detail,
    trunk: started.trunk,
    ...(end.type === 'outcome' && end.room !== undefined ? { room: end.room } : {}),
    startedAt: iso(started.atMs),
    decidedAt: iso(end.atMs),
    ...(endedAtMs === undefined ? {} : { endedAt: iso(endedAtMs) }),
    ...(end.type === 'outcome' && end.ringingMs !== undefined ? { ringingMs: end.ringingMs } : {}),
  };
}
