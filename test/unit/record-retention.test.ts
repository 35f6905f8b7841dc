import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/call-records/clock.fake.js';
import type { Clock } from '../../src/call-records/clock.js';
import {
  CallTracker,
  expiredDayFiles,
  FileSink,
  pruneCallRecords,
  readCallRecords,
  RecordRetention,
  RETENTION_PRUNE_INTERVAL_MS,
  type CallRecord,
} from '../../src/call-records/index.js';
import { phoneCaller } from '../support/callers.js';

const DAY_MS = 86_400_000;
const at = (iso: string) => Date.parse(iso);
const tempDir = () => mkdtemp(join(tmpdir(), 'switchboard-retention-'));

function recordEndedAt(iso: string, callId: string): CallRecord {
  const t = new CallTracker(
    { callId, room: 'room-1', agentName: 'switchboard', caller: phoneCaller },
    () => new Date(iso),
  );
  t.ended('completed', 'the caller said goodbye');
  return t.toRecord();
}

/** Waits until the retention's pass (real file system work) is done and it waits for the next. */
async function passDone(clock: FakeClock): Promise<void> {
  await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([RETENTION_PRUNE_INTERVAL_MS]));
}

describe('expiredDayFiles', () => {
  const names = [
    'calls-2025-12-31.jsonl',
    'calls-2026-01-01.jsonl',
    'calls-2026-01-02.jsonl',
    'calls-2026-01-03.jsonl',
  ];
  it.each([
    // A day file goes once the midnight that ends it is retentionDays behind now.
    ['one day, at midnight', 1, '2026-01-03T00:00:00.000Z', ['2025-12-31', '2026-01-01']],
    ['one day, a millisecond before', 1, '2026-01-02T23:59:59.999Z', ['2025-12-31']],
    ['one day, in the afternoon', 1, '2026-01-03T15:00:00.000Z', ['2025-12-31', '2026-01-01']],
    ['two days', 2, '2026-01-03T00:00:00.000Z', ['2025-12-31']],
    ['ninety days, months later', 90, '2026-04-02T00:00:00.000Z', ['2025-12-31', '2026-01-01']],
    ['nothing old enough', 30, '2026-01-03T00:00:00.000Z', []],
  ])('%s', (_name, days, now, expected) =>
    expect(expiredDayFiles(names, days, at(now))).toEqual(expected.map((d) => `calls-${d}.jsonl`)),
  );

  it.each([
    ['another name', 'notes-2020-01-01.jsonl'],
    ['a temporary file', 'calls-2020-01-01.jsonl.tmp'],
    ['a day that is not a date', 'calls-2020-02-30.jsonl'],
    ['the spool directory', 'spool'],
    ['a write probe', '.write-check-1-abc'],
  ])('keeps %s', (_name, name) => expect(expiredDayFiles([name], 1, at('2030-01-01'))).toEqual([]));
});

describe('pruneCallRecords', () => {
  it('never removes a record inside the window, and removes every day wholly outside it', async () => {
    const dir = await tempDir();
    const sink = new FileSink(dir);
    // A record every 5 hours over twelve days, across midnights.
    const start = at('2026-03-01T01:00:00.000Z');
    const ended = Array.from({ length: 58 }, (_, i) => new Date(start + i * 5 * 3_600_000));
    for (const [i, t] of ended.entries())
      await sink.write(recordEndedAt(t.toISOString(), `AJ_${i}`));
    const nowMs = at('2026-03-12T13:30:00.000Z');
    const retentionDays = 7;
    const cutoffMs = nowMs - retentionDays * DAY_MS;

    const removed = await pruneCallRecords(dir, retentionDays, nowMs);

    const kept = new Set((await readCallRecords(dir)).map((r) => r.callId));
    const inWindow = ended.flatMap((t, i) => (t.getTime() >= cutoffMs ? [`AJ_${i}`] : []));
    expect(inWindow.length).toBeGreaterThan(0);
    for (const id of inWindow) expect(kept).toContain(id);
    // The cutoff is 03-05 13:30: the file of 03-04 (ended by 03-05 00:00) goes, 03-05 stays.
    expect(removed.sort()).toEqual([
      'calls-2026-03-01.jsonl',
      'calls-2026-03-02.jsonl',
      'calls-2026-03-03.jsonl',
      'calls-2026-03-04.jsonl',
    ]);
    expect((await readdir(dir)).sort()[0]).toBe('calls-2026-03-05.jsonl');
    // What stays outside the window is only what shares a day file with records inside it.
    for (const r of await readCallRecords(dir))
      expect(Date.parse(r.endedAt)).toBeGreaterThanOrEqual(at('2026-03-05T00:00:00.000Z'));
  });

  it('a directory that does not exist yet has nothing to prune', async () => {
    const dir = join(await tempDir(), 'not-yet');
    await expect(pruneCallRecords(dir, 1, at('2030-01-01'))).resolves.toEqual([]);
  });

  it('leaves other files and directories alone', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'spool'));
    await writeFile(join(dir, 'calls-2020-01-01.jsonl.tmp'), '');
    await writeFile(join(dir, 'calls-2020-01-01.jsonl'), '');
    await expect(pruneCallRecords(dir, 1, at('2030-01-01'))).resolves.toEqual([
      'calls-2020-01-01.jsonl',
    ]);
    expect((await readdir(dir)).sort()).toEqual(['calls-2020-01-01.jsonl.tmp', 'spool']);
  });
});

describe('RecordRetention', () => {
  /** The FakeClock, recording the options of every sleep. */
  function recordingClock(startIso: string) {
    const fake = new FakeClock({ startMs: at(startIso) });
    const sleepOptions: { ref?: boolean; signal?: AbortSignal }[] = [];
    const clock: Clock = {
      nowMs: () => fake.nowMs(),
      sleep: (ms, options = {}) => {
        sleepOptions.push(options);
        return fake.sleep(ms, options);
      },
    };
    return { fake, clock, sleepOptions };
  }

  it('prunes at start, then every interval, until stopped; its wait does not hold the process', async () => {
    const dir = await tempDir();
    for (const day of ['2026-01-01', '2026-01-02', '2026-01-03'])
      await writeFile(join(dir, `calls-${day}.jsonl`), '{}\n');
    const { fake, clock, sleepOptions } = recordingClock('2026-01-03T12:00:00.000Z');
    const pruned: (readonly string[])[] = [];
    const errors: unknown[] = [];
    const retention = new RecordRetention({
      dir,
      retentionDays: 1,
      clock,
      onPruned: (files) => pruned.push(files),
      onError: (err) => errors.push(err),
    });

    retention.start();
    retention.start(); // once only
    await passDone(fake);
    expect(pruned).toEqual([['calls-2026-01-01.jsonl']]);
    expect(fake.pendingSleeps).toEqual([RETENTION_PRUNE_INTERVAL_MS]);
    expect(sleepOptions[0]?.ref).toBe(false);

    // 12 hours on: 2026-01-02 has left the window.
    for (let hour = 0; hour < 12; hour++) {
      fake.advance(RETENTION_PRUNE_INTERVAL_MS);
      await passDone(fake);
    }
    expect(pruned).toEqual([['calls-2026-01-01.jsonl'], ['calls-2026-01-02.jsonl']]);
    expect(await readdir(dir)).toEqual(['calls-2026-01-03.jsonl']);

    await retention.stop();
    expect(fake.pendingSleeps).toEqual([]);
    // Stopped: no pass is waiting for the clock any more.
    fake.advance(10 * DAY_MS);
    expect(fake.pendingSleeps).toEqual([]);
    expect(await readdir(dir)).toEqual(['calls-2026-01-03.jsonl']);
    expect(errors).toEqual([]);
  });

  it('a failed pass is reported and the next one still runs', async () => {
    const parent = await tempDir();
    // A file where the directory should be: every readdir fails with ENOTDIR.
    const dir = join(parent, 'records');
    await writeFile(dir, 'not a directory');
    const { fake, clock } = recordingClock('2026-01-03T12:00:00.000Z');
    const errors: unknown[] = [];
    const retention = new RecordRetention({
      dir,
      retentionDays: 1,
      clock,
      onError: (err) => errors.push(err),
    });

    retention.start();
    await passDone(fake);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOTDIR']);
    fake.advance(RETENTION_PRUNE_INTERVAL_MS);
    await passDone(fake);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOTDIR', 'ENOTDIR']);
    await retention.stop();
  });
});
