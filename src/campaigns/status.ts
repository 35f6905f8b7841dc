import type { OutboundResult } from '../outbound/outcome.js';
import type { JournalEntry, RunEntry } from './journal.js';
import { nextStep, progressOf } from './progress.js';

/**
 * Where a campaign stands, from its journal alone (rows by id and masked number: the status is
 * shown on terminals and pasted into tickets).
 */
export type RowState =
  /** Not dialled yet. */
  | 'pending'
  /** Busy or no answer so far; another attempt is due at `nextAttemptAtMs`. */
  | 'retry_pending'
  /** Started, no outcome recorded: under way, or interrupted if the campaign is not running. */
  | 'in_progress'
  /** Put off by the last run (outside calling hours until its end). */
  | 'deferred'
  /** Final: the last attempt's result (busy and no_answer: attempts used up). */
  | OutboundResult
  /** Final: the campaign was killed during the attempt; not dialled again. */
  | 'interrupted'
  | 'do_not_call'
  | 'duplicate';

export const ROW_GROUPS = {
  reached: ['answered', 'voicemail'],
  'not reached': ['declined', 'failed', 'busy', 'no_answer', 'interrupted'],
  pending: ['pending', 'retry_pending', 'in_progress', 'deferred'],
  skipped: ['do_not_call', 'duplicate'],
} as const satisfies Record<string, readonly RowState[]>;

export interface RowStatus {
  id: string;
  /** The number with all but its last two digits hidden. */
  masked: string;
  trunk: string;
  state: RowState;
  attempts: number;
  nextAttemptAtMs?: number;
}

export interface CampaignStatus {
  name: string;
  rows: RowStatus[];
  counts: Partial<Record<RowState, number>>;
  /** Dial attempts started, over every run. */
  attempts: number;
  runs: number;
  lastRun?: { atMs: number; listFile: string };
  /** How the last run ended, if it has. */
  lastRunEnd?:
    | { kind: 'finished'; atMs: number }
    | { kind: 'stopped'; atMs: number; code: string; reason: string };
}

export function campaignStatus(
  name: string,
  entries: readonly JournalEntry[],
  nowMs: number,
): CampaignStatus {
  const runAt = entries.findLastIndex((e) => e.type === 'run');
  const run = entries[runAt] as RunEntry | undefined;
  const progress = progressOf(entries);
  const skipped = new Map(run?.skipped.map((s) => [s.rowId, s.reason]) ?? []);
  const deferred = new Set<string>();
  for (const e of entries.slice(runAt + 1)) {
    if (e.type === 'deferred') deferred.add(e.rowId);
    if (e.type === 'started') deferred.delete(e.rowId);
  }
  const rows: RowStatus[] = (run?.rows ?? []).map((r) => {
    const p = progress.get(r.id);
    const base = { id: r.id, masked: r.masked, trunk: r.trunk, attempts: p?.attemptsUsed ?? 0 };
    const skip = skipped.get(r.id);
    if (skip !== undefined) return { ...base, state: skip };
    const step = nextStep(
      p,
      run ?? { maxAttempts: 1, retryDelayMs: 0, retryBackoff: 1, maxRetryDelayMs: 0 },
    );
    if (step.kind === 'done') return { ...base, state: step.final };
    if (step.kind === 'in_progress') return { ...base, state: 'in_progress' };
    if (deferred.has(r.id)) return { ...base, state: 'deferred' };
    if (step.attemptsUsed === 0) return { ...base, state: 'pending' };
    return {
      ...base,
      state: 'retry_pending',
      nextAttemptAtMs: Math.max(nowMs, step.notBeforeMs),
    };
  });
  const counts: Partial<Record<RowState, number>> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const end = entries
    .slice(runAt + 1)
    .findLast((e) => e.type === 'finished' || e.type === 'stopped');
  return {
    name,
    rows,
    counts,
    attempts: entries.filter((e) => e.type === 'started').length,
    runs: entries.filter((e) => e.type === 'run').length,
    ...(run === undefined ? {} : { lastRun: { atMs: run.atMs, listFile: run.listFile } }),
    ...(end?.type === 'finished' ? { lastRunEnd: { kind: 'finished', atMs: end.atMs } } : {}),
    ...(end?.type === 'stopped'
      ? { lastRunEnd: { kind: 'stopped', atMs: end.atMs, code: end.code, reason: end.reason } }
      : {}),
  };
}

/** The status as text: a count per group and state, then (optionally) one line per row. */
export function renderStatus(
  status: CampaignStatus,
  options: { rows?: boolean; runningPid?: number } = {},
): string {
  const lines: string[] = [];
  const state =
    options.runningPid !== undefined
      ? `running (process ${options.runningPid})`
      : status.lastRunEnd?.kind === 'finished'
        ? 'finished'
        : status.lastRunEnd?.kind === 'stopped'
          ? `stopped (${status.lastRunEnd.code})`
          : status.lastRun === undefined
            ? 'never run'
            : 'not running (killed? run it again to resume)';
  lines.push(
    `campaign ${status.name}: ${status.rows.length} row(s), ${status.attempts} attempt(s) over ${status.runs} run(s); ${state}`,
  );
  if (status.lastRunEnd?.kind === 'stopped') lines.push(`  stopped: ${status.lastRunEnd.reason}`);
  for (const [group, states] of Object.entries(ROW_GROUPS)) {
    const parts = (states as readonly RowState[])
      .filter((s) => (status.counts[s] ?? 0) > 0)
      .map((s) => `${s} ${status.counts[s] ?? 0}`);
    const total = (states as readonly RowState[]).reduce((n, s) => n + (status.counts[s] ?? 0), 0);
    lines.push(
      `  ${group.padEnd(12)} ${String(total).padStart(5)}${parts.length > 0 ? `  (${parts.join(', ')})` : ''}`,
    );
  }
  if (options.rows === true)
    for (const r of status.rows)
      lines.push(
        `  row ${r.id}  ${r.masked}  ${r.state}  attempts ${r.attempts}${r.nextAttemptAtMs === undefined ? '' : `  next ${new Date(r.nextAttemptAtMs).toISOString()}`}`,
      );
  return lines.join('\n');
}
