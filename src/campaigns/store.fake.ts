import type { JournalEntry, ResultLine } from './journal.js';
import { interruptedAttempts, type CampaignStateStore } from './store.js';

/**
 * Campaign state in memory, for tests of the runner: `reopen` does what opening the file store
 * after a kill does (started attempts without an outcome become `interrupted`).
 */
export class MemoryCampaignStore implements CampaignStateStore {
  readonly entries: JournalEntry[];
  readonly results: ResultLine[] = [];
  /** When set, appends of this entry type fail (a full disk). */
  failOn: JournalEntry['type'] | undefined;

  constructor(
    readonly name = 'test',
    entries: readonly JournalEntry[] = [],
  ) {
    this.entries = [...entries];
  }

  /** The journal as a new process would find it after this one was killed. */
  static reopen(
    entries: readonly JournalEntry[],
    nowMs: number,
    name = 'test',
  ): MemoryCampaignStore {
    return new MemoryCampaignStore(name, [...entries, ...interruptedAttempts(entries, nowMs)]);
  }

  append(entry: JournalEntry): Promise<void> {
    if (this.failOn === entry.type) return Promise.reject(new Error('disk full'));
    this.entries.push(entry);
    return Promise.resolve();
  }

  appendResult(line: ResultLine): Promise<void> {
    this.results.push(line);
    return Promise.resolve();
  }
}
