import type { OutboundResult } from '../outbound/outcome.js';
import type { AttemptEndEntry, JournalEntry } from './journal.js';
import { RETRIED_RESULTS } from './policy.js';

/**
 * What the journal says about each row, and so what is left to do: the runner resumes from it
 * and `campaign status` reports it, by the same rules.
 */
export interface RowProgress {
  /** Dial attempts used: started ones, less those the dialer refused before dialling. */
  attemptsUsed: number;
  /** The highest attempt number in the journal: the next attempt is numbered after it. */
  lastAttempt: number;
  /** The attempt under way: started, nothing recorded after. */
  open?: { attempt: number; atMs: number };
  /** The latest attempt that was dialled and ended. */
  last?: { attempt: number; result: OutboundResult | 'interrupted'; atMs: number };
}

export function progressOf(entries: readonly JournalEntry[]): Map<string, RowProgress> {
  const rows = new Map<string, RowProgress>();
  const row = (id: string) => {
    let p = rows.get(id);
    if (p === undefined) {
      p = { attemptsUsed: 0, lastAttempt: 0 };
      rows.set(id, p);
    }
    return p;
  };
  for (const e of entries) {
    if (e.type === 'started') {
      const p = row(e.rowId);
      p.attemptsUsed += 1;
      p.lastAttempt = Math.max(p.lastAttempt, e.attempt);
      p.open = { attempt: e.attempt, atMs: e.atMs };
    } else if (e.type === 'outcome' || e.type === 'interrupted' || e.type === 'not_placed') {
      const p = row(e.rowId);
      if (p.open?.attempt === e.attempt) delete p.open;
      if (e.type === 'not_placed') p.attemptsUsed -= 1;
      else p.last = { attempt: e.attempt, result: resultOf(e), atMs: e.atMs };
    }
  }
  return rows;
}

function resultOf(e: Exclude<AttemptEndEntry, { type: 'not_placed' }>) {
  return e.type === 'outcome' ? e.result : 'interrupted';
}

export interface RetryRules {
  maxAttempts: number;
  retryDelayMs: number;
  retryBackoff: number;
  maxRetryDelayMs: number;
}

/** How long to wait before the attempt after `attemptsUsed` busy/no-answer attempts. */
export function retryDelayMsAfter(rules: RetryRules, attemptsUsed: number): number {
  const delay = rules.retryDelayMs * rules.retryBackoff ** Math.max(0, attemptsUsed - 1);
  return Math.min(rules.maxRetryDelayMs, Math.round(delay));
}

export type NextStep =
  /** Dial it (again) once `notBeforeMs` has come. */
  | { kind: 'dial'; attempt: number; attemptsUsed: number; notBeforeMs: number }
  /** Nothing more to do: the final word on the row. */
  | { kind: 'done'; final: OutboundResult | 'interrupted' }
  /** An attempt is under way. */
  | { kind: 'in_progress'; attempt: number };

/**
 * The rule: a row is done once a dialled attempt ended in anything but busy or no answer, or
 * once its attempts are used up. `interrupted` (outcome unknown, the call may have been
 * answered) is final: a person may already have had the call, and ringing them again is the
 * double-dial this store exists to prevent.
 */
export function nextStep(progress: RowProgress | undefined, rules: RetryRules): NextStep {
  if (progress === undefined) return { kind: 'dial', attempt: 1, attemptsUsed: 0, notBeforeMs: 0 };
  if (progress.open !== undefined) return { kind: 'in_progress', attempt: progress.open.attempt };
  const { last, attemptsUsed, lastAttempt } = progress;
  const dial = (notBeforeMs: number): NextStep => ({
    kind: 'dial',
    attempt: lastAttempt + 1,
    attemptsUsed,
    notBeforeMs,
  });
  if (last === undefined) return dial(0);
  if (last.result === 'interrupted' || !RETRIED_RESULTS.includes(last.result))
    return { kind: 'done', final: last.result };
  if (attemptsUsed >= rules.maxAttempts) return { kind: 'done', final: last.result };
  return dial(last.atMs + retryDelayMsAfter(rules, attemptsUsed));
}
