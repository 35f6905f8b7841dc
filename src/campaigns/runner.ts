import { systemClock, type Clock } from '../call-records/clock.js';
import { maskPhoneNumber } from '../caller/phone-number.js';
import { isSwitchboardError, SwitchboardError } from '../errors/index.js';
import type { OutboundCallRequest, OutboundDialer, PlacedCall } from '../outbound/dialer.js';
import type { OutboundOutcome } from '../outbound/outcome.js';
import { msUntilWindowOpens } from './calling-hours.js';
import {
  resultLineOf,
  type AttemptEndEntry,
  type DeferReason,
  type JournalEntry,
  type OutcomeEntry,
  type RunEntry,
  type StartedEntry,
} from './journal.js';
import { callOptionsOf, type CampaignList, type CampaignRow } from './list.js';
import { RETRIED_RESULTS, trunkCapOf, type CampaignPolicy } from './policy.js';
import { nextStep, progressOf, retryDelayMsAfter } from './progress.js';
import { campaignStatus, type CampaignStatus } from './status.js';
import type { CampaignStateStore } from './store.js';

export interface CampaignRunOptions {
  list: CampaignList;
  policy: CampaignPolicy;
  store: CampaignStateStore;
  dialer: OutboundDialer;
  /** E.164 numbers never to dial. */
  doNotCall?: ReadonlySet<string>;
  clock?: Clock;
  /** Stops starting calls; the calls being dialled are waited for until their outcome is known. */
  signal?: AbortSignal;
  /** Progress, one line at a time; rows by id, never by number. */
  log?: (line: string) => void;
}

export type CampaignEnding =
  /** Every row is done, skipped or put off. */
  | 'completed'
  /** A trunk refused calls, or the dialer could not place them: the rest waits for a rerun. */
  | 'stopped'
  /** The signal aborted. */
  | 'aborted'
  /** `untilMs` came: what was left is put off. */
  | 'until_passed';

export interface CampaignRunResult {
  ending: CampaignEnding;
  /** Why it stopped, when `ending` is `stopped`. */
  stopReason?: SwitchboardError;
  /** Attempts this run started. */
  attemptsStarted: number;
  status: CampaignStatus;
}

/**
 * Runs a campaign to its end, or until stopped: resumes from the store's journal (rows done are
 * not dialled again, an attempt a kill interrupted is not redialled), paces the starts, holds a
 * seat per call campaign-wide and per trunk from the dial until the call ends, starts a call only
 * inside the callee's calling hours, retries busy and no answer with backoff, never dials a
 * do-not-call or duplicate row, and stops when a trunk refuses calls.
 *
 * Rejects, before anything is dialled, when a row has no trunk or the store holds another list's
 * campaign; later, only when the store cannot be written (then no further call starts).
 */
export async function runCampaign(options: CampaignRunOptions): Promise<CampaignRunResult> {
  const run = new CampaignRun(options);
  return run.run();
}

/**
 * Every row to dial has an outbound trunk (its own, or the campaign's): said for all of them at
 * once, before the first dial.
 */
export function assertTrunks(list: CampaignList, policy: CampaignPolicy): void {
  if (policy.trunk !== undefined) return;
  const lines = list.rows.filter((r) => r.trunk === undefined).map((r) => r.line);
  if (lines.length > 0)
    throw new SwitchboardError(
      'campaign_options_invalid',
      `No outbound trunk for the rows at line(s) ${lines.slice(0, 20).join(', ')}${lines.length > 20 ? ` and ${lines.length - 20} more` : ''}; nothing was dialled. Give --trunk <name> (an outbound trunk as \`npm run sip\` provisions it), or a trunk column in the list.`,
    );
}

interface Item {
  row: CampaignRow;
  /** Position in the list: retries keep their row's place in line. */
  index: number;
  trunk: string;
  timeZone: string;
  attempt: number;
  attemptsUsed: number;
  notBeforeMs: number;
  /** A wait for the window has been logged. */
  waitLogged?: boolean;
}

/** SIP statuses with which a trunk (not a callee) turns calls away, when they come in a row. */
const TRUNK_REFUSALS = new Set([403, 503]);

class CampaignRun {
  private readonly list: CampaignList;
  private readonly policy: CampaignPolicy;
  private readonly store: CampaignStateStore;
  private readonly dialer: OutboundDialer;
  private readonly clock: Clock;
  private readonly signal: AbortSignal | undefined;
  private readonly log: (line: string) => void;
  private readonly doNotCall: ReadonlySet<string>;

  private readonly queue: Item[] = [];
  private readonly tasks = new Set<Promise<void>>();
  private readonly trunkInFlight = new Map<string, number>();
  private readonly refusalsInARow = new Map<string, number>();
  private failedInARow = 0;
  private inFlight = 0;
  private nextStartMs = Number.NEGATIVE_INFINITY;
  private attemptsStarted = 0;

  /** Aborted when no further call may start (the end, a stop, the signal, a store failure). */
  private readonly stopping = new AbortController();
  private ending: CampaignEnding | undefined;
  private stopReason: SwitchboardError | undefined;
  private fatal: Error | undefined;
  private wakeController: AbortController | undefined;
  private woken = false;

  constructor(options: CampaignRunOptions) {
    this.list = options.list;
    this.policy = options.policy;
    this.store = options.store;
    this.dialer = options.dialer;
    this.clock = options.clock ?? systemClock;
    this.signal = options.signal;
    this.log = options.log ?? (() => undefined);
    this.doNotCall = options.doNotCall ?? new Set();
  }

  async run(): Promise<CampaignRunResult> {
    assertTrunks(this.list, this.policy);
    this.checkSameList();
    const skipped = this.plan();
    const leftUp = await this.callsStillUp(callsLeftUp(this.store.entries));
    await this.store.append(this.runEntry(skipped));
    for (const call of leftUp) this.holdSeatUntilOver(call);
    if (leftUp.length > 0)
      this.log(
        `${leftUp.length} call(s) an earlier run placed are still up; their seats are held until they end`,
      );
    this.log(
      `${this.queue.length} row(s) to dial, ${this.list.rows.length - this.queue.length} done or skipped`,
    );

    const onAbort = () => this.halt('aborted');
    this.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.signal?.aborted === true) onAbort();
    try {
      await this.schedule().catch((err: unknown) => this.fail(err));
      // Every call started is seen through (or, when aborted, to its outcome).
      while (this.tasks.size > 0) await Promise.all([...this.tasks]);
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
    }
    if (this.fatal !== undefined) throw this.fatal;

    const ending = this.ending ?? 'completed';
    const atMs = this.clock.nowMs();
    if (ending === 'completed' || ending === 'until_passed')
      await this.store.append({ type: 'finished', atMs });
    else
      await this.store.append({
        type: 'stopped',
        atMs,
        code: this.stopReason?.code ?? 'aborted',
        reason: this.stopReason?.message ?? 'stopped by the operator (signal)',
      });
    return {
      ending,
      ...(this.stopReason === undefined ? {} : { stopReason: this.stopReason }),
      attemptsStarted: this.attemptsStarted,
      status: campaignStatus(this.store.name, this.store.entries, this.clock.nowMs()),
    };
  }

  /**
   * Row ids are the keys of the journal: resuming with an edited list is safe only when rows
   * carry their own ids (a row number would then name another row).
   */
  private checkSameList(): void {
    const previous = this.store.entries.findLast((e): e is RunEntry => e.type === 'run');
    if (previous === undefined || previous.listDigest === this.list.digest) return;
    if (previous.hasIds && this.list.hasIds) {
      this.log('the list changed since the last run; rows are matched by their id');
      return;
    }
    throw new SwitchboardError(
      'campaign_state_conflict',
      `Campaign "${this.store.name}" was started with a different list (${previous.listFile}), and rows without an id column are known by their position, which an edit moves. Nothing was dialled. Run it with the list it started with, give every row an id, or start a new campaign with another --name.`,
    );
  }

  /** Queues what is left to do; returns the rows this run skips and why. */
  private plan(): RunEntry['skipped'] {
    const progress = progressOf(this.store.entries);
    const skipped: RunEntry['skipped'] = [];
    this.list.rows.forEach((row, index) => {
      if (row.duplicateOf !== undefined) {
        skipped.push({ rowId: row.id, reason: 'duplicate', duplicateOf: row.duplicateOf });
        return;
      }
      if (this.doNotCall.has(row.number)) {
        skipped.push({ rowId: row.id, reason: 'do_not_call' });
        return;
      }
      const step = nextStep(progress.get(row.id), this.policy);
      if (step.kind !== 'dial') return;
      this.queue.push({
        row,
        index,
        trunk: this.trunkOf(row),
        timeZone: row.timezone ?? this.policy.timezone,
        attempt: step.attempt,
        attemptsUsed: step.attemptsUsed,
        notBeforeMs: step.notBeforeMs,
      });
    });
    return skipped;
  }

  private runEntry(skipped: RunEntry['skipped']): RunEntry {
    return {
      type: 'run',
      atMs: this.clock.nowMs(),
      pid: process.pid,
      listFile: this.list.file,
      listDigest: this.list.digest,
      hasIds: this.list.hasIds,
      rows: this.list.rows.map((r) => ({
        id: r.id,
        masked: maskPhoneNumber(r.number),
        trunk: this.trunkOf(r),
      })),
      skipped,
      maxAttempts: this.policy.maxAttempts,
      retryDelayMs: this.policy.retryDelayMs,
      retryBackoff: this.policy.retryBackoff,
      maxRetryDelayMs: this.policy.maxRetryDelayMs,
    };
  }

  private trunkOf(row: CampaignRow): string {
    return row.trunk ?? this.policy.trunk ?? '';
  }

  /** Starts calls as pace, seats and calling hours allow, until nothing is left or it stops. */
  private async schedule(): Promise<void> {
    const { untilMs, concurrency } = this.policy;
    while (!this.stopping.signal.aborted) {
      this.woken = false;
      const now = this.clock.nowMs();
      if (untilMs !== undefined && now >= untilMs) {
        await this.deferAll('campaign_ended', 'the campaign reached its end time (--until)');
        this.ending ??= 'until_passed';
        return;
      }
      const untilEnd = untilMs === undefined ? undefined : untilMs - now;
      if (this.queue.length === 0) {
        if (this.inFlight === 0) return;
        // A call under way may still come back busy and be queued again.
        await this.pause(untilEnd);
        continue;
      }
      if (this.inFlight >= concurrency) {
        await this.pause(untilEnd);
        continue;
      }
      if (now < this.nextStartMs) {
        await this.pause(minDefined(this.nextStartMs - now, untilEnd));
        continue;
      }
      const pick = await this.pick(now);
      if (pick.item !== undefined) this.start(pick.item, now);
      else await this.pause(minDefined(pick.waitMs, untilEnd));
    }
  }

  /** The first row in line that may be dialled now, or how long until one may be. */
  private async pick(now: number): Promise<{ item?: Item; waitMs?: number }> {
    const { window, untilMs } = this.policy;
    let earliest: number | undefined;
    for (const item of [...this.queue]) {
      if (item.notBeforeMs > now) {
        earliest = minDefined(earliest, item.notBeforeMs);
        continue;
      }
      // A full trunk is waited on like a full campaign: a call ending wakes the scheduler.
      if ((this.trunkInFlight.get(item.trunk) ?? 0) >= trunkCapOf(this.policy, item.trunk))
        continue;
      const waitMs = window === undefined ? 0 : msUntilWindowOpens(window, item.timeZone, now);
      if (waitMs === 0) return { item };
      const opensAtMs = now + waitMs;
      if (untilMs !== undefined && opensAtMs >= untilMs) {
        this.dequeue(item);
        await this.defer(
          item,
          'outside_calling_hours',
          `outside calling hours ${window?.text ?? ''} in ${item.timeZone} until after the campaign's end (--until)`,
        );
        continue;
      }
      item.notBeforeMs = opensAtMs;
      if (item.waitLogged !== true) {
        item.waitLogged = true;
        this.log(
          `row ${item.row.id}: outside calling hours in ${item.timeZone}; waits ${formatDuration(waitMs)} for ${window?.text ?? ''}`,
        );
      }
      earliest = minDefined(earliest, opensAtMs);
    }
    return earliest === undefined ? {} : { waitMs: earliest - now };
  }

  /** Of the calls a killed run placed, those still up; all of them when LiveKit cannot say. */
  private async callsStillUp<C extends { room: string }>(calls: C[]): Promise<C[]> {
    if (calls.length === 0) return calls;
    const up = await this.dialer.callsUp(calls.map((c) => c.room)).catch(() => undefined);
    if (up === undefined) return calls;
    const rooms = new Set(up);
    return calls.filter((c) => rooms.has(c.room));
  }

  /**
   * A call a killed run left up holds its seat, campaign-wide and on its trunk, as the calls of
   * this run do, until it is over (or this run stops).
   */
  private holdSeatUntilOver(call: { room: string; trunk: string }): void {
    this.seated(
      call.trunk,
      this.dialer.untilOver(call.room, this.stopping.signal).catch(() => undefined),
    );
  }

  private start(item: Item, now: number): void {
    this.dequeue(item);
    this.nextStartMs = now + 1000 / this.policy.rate;
    this.attemptsStarted += 1;
    this.seated(
      item.trunk,
      this.attempt(item).catch((err: unknown) => this.fail(err)),
    );
  }

  /** Holds a seat, campaign-wide and on `trunk`, while `work` runs; the task is owned until it settles. */
  private seated(trunk: string, work: Promise<void>): void {
    this.inFlight += 1;
    this.trunkInFlight.set(trunk, (this.trunkInFlight.get(trunk) ?? 0) + 1);
    const task: Promise<void> = work.finally(() => {
      this.inFlight -= 1;
      this.trunkInFlight.set(trunk, (this.trunkInFlight.get(trunk) ?? 1) - 1);
      this.tasks.delete(task);
      this.wake();
    });
    this.tasks.add(task);
  }

  /** One attempt: journalled as started before the dial, its outcome once known, its result line at the end. */
  private async attempt(item: Item): Promise<void> {
    const started: StartedEntry = {
      type: 'started',
      atMs: this.clock.nowMs(),
      rowId: item.row.id,
      attempt: item.attempt,
      trunk: item.trunk,
    };
    await this.store.append(started);
    this.log(`row ${item.row.id}: attempt ${item.attempt} dialling (trunk ${item.trunk})`);

    let placed: PlacedCall;
    try {
      placed = await this.dialer.place(this.requestFor(item), this.signal);
    } catch (err) {
      await this.notPlaced(started, err);
      return;
    }
    await this.store.append({
      type: 'placed',
      atMs: this.clock.nowMs(),
      rowId: item.row.id,
      attempt: item.attempt,
      room: placed.room,
    });
    const outcome = await placed.outcome.catch((err: unknown): OutboundOutcome => ({
      result: 'failed',
      detail: `the dialer lost the outcome (${isSwitchboardError(err) ? err.code : 'error'})`,
    }));
    const decided: OutcomeEntry = {
      type: 'outcome',
      atMs: this.clock.nowMs(),
      rowId: item.row.id,
      attempt: item.attempt,
      result: outcome.result,
      ...(outcome.sipStatus === undefined ? {} : { sipStatus: outcome.sipStatus }),
      ...(outcome.ringingMs === undefined ? {} : { ringingMs: outcome.ringingMs }),
      detail: outcome.detail,
      room: placed.room,
    };
    await this.store.append(decided);
    this.judge(item, outcome, decided.atMs);
    const ended = await settledOrAborted(placed.ended, this.signal);
    await this.store.appendResult(
      resultLineOf(this.store.name, started, decided, ended ? this.clock.nowMs() : undefined),
    );
  }

  private requestFor(item: Item): OutboundCallRequest {
    const from = item.row.from ?? this.policy.from;
    return {
      to: item.row.number,
      agentName: this.policy.agentName,
      trunk: item.trunk,
      ...(from === undefined ? {} : { from }),
      ...callOptionsOf(item.row),
    };
  }

  /**
   * The dialer turned the request down before dialling: nothing rang, so the attempt does not
   * count, and the cause (a missing trunk, LiveKit unreachable) would turn down every other row
   * too: the campaign stops. Aborted mid-place, whether it rang is unknown: interrupted.
   */
  private async notPlaced(started: StartedEntry, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const code = isSwitchboardError(err) ? err.code : 'error';
    const end: AttemptEndEntry =
      this.signal?.aborted === true
        ? {
            type: 'interrupted',
            atMs: this.clock.nowMs(),
            rowId: started.rowId,
            attempt: started.attempt,
            detail: 'the campaign was stopped while the call was being placed',
          }
        : {
            type: 'not_placed',
            atMs: this.clock.nowMs(),
            rowId: started.rowId,
            attempt: started.attempt,
            code,
            detail: message,
          };
    await this.store.append(end);
    await this.store.appendResult(resultLineOf(this.store.name, started, end));
    if (end.type === 'not_placed')
      this.halt(
        'stopped',
        new SwitchboardError(
          'campaign_dial_failed',
          `The dialer could not place the call of row ${started.rowId} (${code}: ${message}). The campaign stopped: the same cause would fail every row. Fix it, then run the same command again; it resumes where it stopped.`,
          { retryable: isSwitchboardError(err) && err.retryable },
        ),
      );
  }

  /** Trunk refusal, a run of failures, and retries, from one outcome. */
  private judge(item: Item, outcome: OutboundOutcome, decidedAtMs: number): void {
    const id = item.row.id;
    const { refusalsToStop, maxAttempts } = this.policy;
    if (outcome.sipStatus !== undefined && TRUNK_REFUSALS.has(outcome.sipStatus)) {
      const refusals = (this.refusalsInARow.get(item.trunk) ?? 0) + 1;
      this.refusalsInARow.set(item.trunk, refusals);
      if (refusals >= refusalsToStop)
        this.halt(
          'stopped',
          new SwitchboardError(
            'campaign_trunk_refused',
            `Trunk "${item.trunk}" refused ${refusals} call(s) in a row (last: SIP ${outcome.sipStatus}, ${outcome.detail}); the campaign stopped instead of going through the list. Check the trunk with the carrier (credentials, caller ID --from, balance, channel limit), then run the same command again: it resumes where it stopped.`,
          ),
        );
    } else this.refusalsInARow.set(item.trunk, 0);

    this.failedInARow = outcome.result === 'failed' ? this.failedInARow + 1 : 0;
    if (this.failedInARow >= refusalsToStop && this.stopReason === undefined)
      this.halt(
        'stopped',
        new SwitchboardError(
          'campaign_dial_failed',
          `${this.failedInARow} calls in a row failed (last: ${outcome.detail}); the campaign stopped: the cause is likely not the callees (is the agent's worker running, is the trunk reachable?). Fix it, then run the same command again: it resumes where it stopped.`,
          { retryable: true },
        ),
      );

    const attemptsUsed = item.attemptsUsed + 1;
    const retried = RETRIED_RESULTS.includes(outcome.result);
    if (retried && attemptsUsed < maxAttempts) {
      const delayMs = retryDelayMsAfter(this.policy, attemptsUsed);
      this.enqueue({
        ...item,
        attempt: item.attempt + 1,
        attemptsUsed,
        notBeforeMs: decidedAtMs + delayMs,
        waitLogged: false,
      });
      this.log(
        `row ${id}: attempt ${item.attempt} ${outcome.detail}; next attempt in ${formatDuration(delayMs)}`,
      );
    } else
      this.log(
        `row ${id}: attempt ${item.attempt} ${outcome.detail}${retried ? `; gave up after ${attemptsUsed} attempt(s)` : ''}`,
      );
  }

  private async deferAll(reason: DeferReason, detail: string): Promise<void> {
    for (const item of [...this.queue]) {
      this.dequeue(item);
      await this.defer(item, reason, detail);
    }
  }

  private async defer(item: Item, reason: DeferReason, detail: string): Promise<void> {
    await this.store.append({
      type: 'deferred',
      atMs: this.clock.nowMs(),
      rowId: item.row.id,
      reason,
      detail,
    });
    this.log(`row ${item.row.id}: not dialled in this run, ${detail}`);
  }

  private enqueue(item: Item): void {
    const at = this.queue.findIndex((q) => q.index > item.index);
    if (at === -1) this.queue.push(item);
    else this.queue.splice(at, 0, item);
    this.wake();
  }

  private dequeue(item: Item): void {
    const at = this.queue.indexOf(item);
    if (at !== -1) this.queue.splice(at, 1);
  }

  /** No further call starts; those under way are seen through. The first reason wins. */
  private halt(ending: CampaignEnding, reason?: SwitchboardError): void {
    if (this.ending === undefined) {
      this.ending = ending;
      this.stopReason = reason;
      if (reason !== undefined) this.log(`stopping: ${reason.message}`);
    }
    this.stopping.abort();
  }

  /** The state could not be written: nothing more may be dialled, since nothing could be recorded. */
  private fail(err: unknown): void {
    this.fatal ??= err instanceof Error ? err : new Error(String(err));
    this.stopping.abort();
  }

  private wake(): void {
    this.woken = true;
    this.wakeController?.abort();
  }

  /** Waits `ms` (undefined: until woken), or less when a call ends, a retry is queued or it stops. */
  private async pause(ms?: number): Promise<void> {
    if (this.woken) return;
    const controller = new AbortController();
    this.wakeController = controller;
    const signal = AbortSignal.any([controller.signal, this.stopping.signal]);
    try {
      if (ms === undefined)
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      else await this.clock.sleep(Math.max(0, ms), { signal });
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      this.wakeController = undefined;
    }
  }
}

/** True once `promise` settles; false when `signal` aborts first (the call goes on without us). */
async function settledOrAborted(promise: Promise<unknown>, signal?: AbortSignal): Promise<boolean> {
  // The call's own promise: its failure is not the campaign's, and must not go unhandled.
  const settled = promise.then(
    () => true,
    () => true,
  );
  if (signal === undefined) return settled;
  if (signal.aborted) return false;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([settled, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * The calls runs killed since the last run that ended (finished or stopped) placed, with their
 * trunks: a run that ends hangs its calls up or sees them through, a killed one leaves them up.
 * Rooms from `outcome` entries too, for journals written before `placed` entries were.
 */
export function callsLeftUp(entries: readonly JournalEntry[]): { room: string; trunk: string }[] {
  const lastEnded = entries.findLastIndex((e) => e.type === 'finished' || e.type === 'stopped');
  const trunks = new Map<string, string>();
  const rooms = new Map<string, string>();
  for (const e of entries.slice(lastEnded + 1)) {
    if (e.type === 'started') trunks.set(`${e.attempt}:${e.rowId}`, e.trunk);
    else if ((e.type === 'placed' || e.type === 'outcome') && e.room !== undefined)
      rooms.set(e.room, trunks.get(`${e.attempt}:${e.rowId}`) ?? '');
  }
  return [...rooms].map(([room, trunk]) => ({ room, trunk }));
}
