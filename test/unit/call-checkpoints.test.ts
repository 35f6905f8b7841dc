import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CallTracker,
  CheckpointStore,
  recordOfDeadJob,
  type CallCheckpoint,
} from '../../src/call-records/index.js';
import { FakeRecordSink } from '../../src/call-records/sink.fake.js';
import { CallCheckpointer } from '../../src/call/call-checkpoint.js';
import type { HangUpPort } from '../../src/call/hang-up.js';
import { recoverOrphanedCalls, type OrphanedCallPorts } from '../../src/worker/orphaned-calls.js';
import { processAlive, processStartTicks } from '../../src/worker/process-tree.js';
import { phoneCaller } from '../support/callers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-checkpoints-'));
});
afterEach(() => {
  vi.useRealTimers();
});

function tracker(callId = 'AJ_test1'): CallTracker {
  return new CallTracker({ callId, room: 'room-1', agentName: 'switchboard', caller: phoneCaller });
}

function checkpointOf(t: CallTracker, over: Partial<CallCheckpoint> = {}): CallCheckpoint {
  return {
    version: 1,
    pid: 999_999_999,
    room: 'room-1',
    callerIdentity: phoneCaller.identity,
    savedAt: new Date().toISOString(),
    ended: t.hasEnded,
    record: t.toRecord(),
    ...over,
  };
}

/** Hang-ups as seen by the server: which rooms were deleted. */
function fakeHangUp(fail = false): HangUpPort & { deleted: string[] } {
  const deleted: string[] = [];
  return {
    deleted,
    deleteRoom: (room) => {
      if (fail) return Promise.reject(new Error('server unreachable'));
      deleted.push(room);
      return Promise.resolve();
    },
    removeParticipant: () => Promise.reject(new Error('server unreachable')),
  };
}

function ports(over: Partial<OrphanedCallPorts> = {}): OrphanedCallPorts & {
  records: FakeRecordSink;
  hangUp: ReturnType<typeof fakeHangUp>;
} {
  return {
    store: new CheckpointStore(dir),
    records: new FakeRecordSink(),
    hangUp: fakeHangUp(),
    isAlive: () => false,
    now: () => new Date('2026-11-30T10:00:00.000Z'),
    ...over,
  } as OrphanedCallPorts & { records: FakeRecordSink; hangUp: ReturnType<typeof fakeHangUp> };
}

describe('CheckpointStore', () => {
  it('saves a checkpoint readable by mode-0600 file in <records>/in-progress, and removes it', async () => {
    const store = new CheckpointStore(dir);
    const t = tracker();
    t.said('caller', 'hello');
    await store.save(checkpointOf(t));
    const [file] = await store.list();
    expect(file).toBe(join(dir, 'in-progress', 'AJ_test1.json'));
    expect((await stat(file ?? '')).mode & 0o777).toBe(0o600);
    expect((await store.read(file ?? ''))?.record.turns.map((x) => x.text)).toEqual(['hello']);
    await store.remove('AJ_test1');
    expect(await store.list()).toEqual([]);
  });

  it('lets only one of two workers claim a checkpoint', async () => {
    const store = new CheckpointStore(dir);
    await store.save(checkpointOf(tracker()));
    const [file] = await store.list();
    const [a, b] = await Promise.all([store.claim(file ?? '', 1), store.claim(file ?? '', 2)]);
    expect([a.kind, b.kind].sort()).toEqual(['checkpoint', 'gone']);
  });
});

describe('recordOfDeadJob', () => {
  it('ends a call still in progress as failed at the time it was found', () => {
    const t = tracker();
    t.said('agent', 'Hello');
    const record = recordOfDeadJob(checkpointOf(t), new Date('2026-11-30T10:00:00.000Z'));
    expect(record).toMatchObject({
      outcome: 'failed',
      endedAt: '2026-11-30T10:00:00.000Z',
      turns: [{ role: 'agent', text: 'Hello' }],
    });
    expect(record.endReason).toMatch(/job process died/);
  });

  it('keeps the outcome of a call that had ended before the process died', () => {
    const t = tracker();
    t.ended('caller_hung_up', 'the caller hung up');
    expect(recordOfDeadJob(checkpointOf(t), new Date()).outcome).toBe('caller_hung_up');
  });
});

describe('CallCheckpointer', () => {
  it('saves at the start, follows changes at most once per interval, and removes the file once the record is written', async () => {
    vi.useFakeTimers();
    const store = new CheckpointStore(dir);
    const saves = vi.spyOn(store, 'save');
    const t = tracker();
    const checkpointer = new CallCheckpointer({
      store,
      tracker: t,
      room: 'room-1',
      callerIdentity: () => phoneCaller.identity,
      onError: (err) => {
        throw err;
      },
      intervalMs: 1_000,
    });
    await vi.waitFor(() => expect(saves).toHaveBeenCalledTimes(1));
    t.said('caller', 'one');
    t.said('agent', 'two');
    t.said('caller', 'three');
    await vi.advanceTimersByTimeAsync(999);
    expect(saves).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(saves).toHaveBeenCalledTimes(2));
    vi.useRealTimers();
    let saved: CallCheckpoint | undefined;
    await vi.waitFor(async () => {
      saved = await store.read(store.fileOf('AJ_test1'));
      expect(saved?.record.turns.map((x) => x.text)).toEqual(['one', 'two', 'three']);
    });
    expect(saved?.pid).toBe(process.pid);
    expect(saved?.pidStartTicks).toBe(processStartTicks(process.pid));
    await checkpointer.stop(true);
    expect(await store.list()).toEqual([]);
  });

  it('keeps the checkpoint when the final record could not be written', async () => {
    const store = new CheckpointStore(dir);
    const t = tracker();
    const checkpointer = new CallCheckpointer({
      store,
      tracker: t,
      room: 'room-1',
      callerIdentity: () => undefined,
      onError: (err) => {
        throw err;
      },
    });
    t.ended('caller_hung_up', 'the caller hung up');
    await checkpointer.stop(false);
    const [file] = await store.list();
    // With the call's final state: the worker writes this outcome, not "failed".
    expect(await store.read(file ?? '')).toMatchObject({
      ended: true,
      record: { outcome: 'caller_hung_up' },
    });
  });
});

describe('recoverOrphanedCalls', () => {
  it('hangs up and records the call of a dead job process, then removes its checkpoint', async () => {
    const p = ports();
    const t = tracker();
    t.said('agent', 'Hello, how can I help?');
    t.said('caller', 'I would like to book');
    await p.store.save(checkpointOf(t));
    const recovered = await recoverOrphanedCalls(p);
    expect(recovered).toEqual([{ callId: 'AJ_test1', hangUp: 'room_deleted', outcome: 'failed' }]);
    expect(p.hangUp.deleted).toEqual(['room-1']);
    expect(p.records.records).toHaveLength(1);
    expect(p.records.records[0]?.turns).toHaveLength(2);
    expect(await readdir(join(dir, 'in-progress'))).toEqual([]);
  });

  it('leaves the checkpoint of a live job process alone', async () => {
    const p = ports({ isAlive: () => true });
    await p.store.save(checkpointOf(tracker()));
    expect(await recoverOrphanedCalls(p)).toEqual([]);
    expect(p.hangUp.deleted).toEqual([]);
    expect(await p.store.list()).toHaveLength(1);
  });

  it('does not hang up a call that had already ended', async () => {
    const p = ports();
    const t = tracker();
    t.ended('caller_hung_up', 'the caller hung up');
    await p.store.save(checkpointOf(t));
    expect((await recoverOrphanedCalls(p))[0]?.hangUp).toBe('not_needed');
    expect(p.hangUp.deleted).toEqual([]);
  });

  it('keeps a claimed checkpoint when the record cannot be written, so no record is lost', async () => {
    const p = ports({ records: new FakeRecordSink({ writeError: new Error('disk full') }) });
    await p.store.save(checkpointOf(tracker()));
    await expect(recoverOrphanedCalls(p)).rejects.toThrow('disk full');
    expect(await readdir(join(dir, 'in-progress'))).toEqual([`AJ_test1.json.${process.pid}`]);
  });

  it('reports an unreadable checkpoint once and moves it aside', async () => {
    const p = ports();
    await p.store.save(checkpointOf(tracker()));
    await writeFile(p.store.fileOf('AJ_test1'), '{"torn');
    const corrupt: string[] = [];
    await recoverOrphanedCalls(p, (file) => corrupt.push(file));
    await recoverOrphanedCalls(p, (file) => corrupt.push(file));
    expect(corrupt).toHaveLength(1);
    expect(await readFile(corrupt[0] ?? '', 'utf8')).toBe('{"torn');
  });
});

describe('processAlive', () => {
  it.each([
    ['this process', () => [process.pid, processStartTicks(process.pid)] as const, true],
    ['this pid with another start time', () => [process.pid, '1'] as const, false],
    ['a pid nobody has', () => [999_999_999, undefined] as const, false],
  ])('%s', (_name, args, alive) => {
    const [pid, ticks] = args();
    expect(processAlive(pid, ticks)).toBe(alive);
  });
});
