/**
 * A seat taken by an accepted call is held until its job runs: a process start may take
 * INITIALIZE_PROCESS_TIMEOUT_MS, and a reservation that ran out sooner let a cold burst take more
 * calls than the worker has seats. A job that never runs is handed back, with its room, for its
 * caller to be answered busy. Time is the `nowMs` each call is given.
 */
import { describe, expect, it } from 'vitest';
import {
  Admission,
  FRAMEWORK_ASSIGNMENT_WAIT_MS,
  INITIALIZE_PROCESS_TIMEOUT_MS,
  launchDeadlineMs,
} from '../../src/worker/index.js';

const running = (...ids: string[]) => new Set(ids);
const DEADLINE_MS = launchDeadlineMs(INITIALIZE_PROCESS_TIMEOUT_MS);

function admission(maxCalls: number, phoneReservedCalls = 0) {
  return new Admission({
    maxCalls,
    phoneReservedCalls,
    cpuUsage: () => 0,
    launchDeadlineMs: DEADLINE_MS,
  });
}

describe('launchDeadlineMs', () => {
  it.each([
    [10_000, 22_500],
    [45_000, 57_500],
  ])('with a %i ms process start it is %i ms', (initializeMs, deadlineMs) => {
    expect(launchDeadlineMs(initializeMs)).toBe(deadlineMs);
  });

  it('covers the assignment and a whole process start', () => {
    expect(DEADLINE_MS).toBeGreaterThan(
      FRAMEWORK_ASSIGNMENT_WAIT_MS + INITIALIZE_PROCESS_TIMEOUT_MS,
    );
  });
});

describe('Admission launch reservations', () => {
  it('keeps the seats of a cold burst for as long as a process start may take', () => {
    const a = admission(2);
    expect(a.decide('j1', running(), 0, 'phone', 'call-1').accept).toBe(true);
    expect(a.decide('j2', running(), 5, 'phone', 'call-2').accept).toBe(true);
    // 15 s on (the old reservation time) both processes are still starting: no third call.
    expect(a.decide('j3', running(), 15_001, 'phone', 'call-3')).toEqual({
      accept: false,
      reason: 'at_call_limit',
    });
    expect(a.settle(running(), 15_001)).toEqual([]);
    // 40 s on, j1 runs; j2 is still starting and still holds its seat.
    expect(a.settle(running('j1'), 40_000)).toEqual([]);
    expect(a.decide('j4', running('j1'), 40_000).accept).toBe(false);
    expect(a.pendingCount(running('j1'), 40_000)).toBe(1);
  });

  it('hands back a job past its deadline once, with its room, and frees its seat', () => {
    const a = admission(1);
    a.decide('j1', running(), 1_000, 'web', 'call-1');
    expect(a.settle(running(), 1_000 + DEADLINE_MS)).toEqual([]);
    expect(a.pendingCount(running(), 1_000 + DEADLINE_MS)).toBe(1);
    const late = 1_001 + DEADLINE_MS;
    // Not counted from the deadline on, even before the worker's next settle.
    expect(a.pendingCount(running(), late)).toBe(0);
    expect(a.settle(running(), late)).toEqual([
      { jobId: 'j1', room: 'call-1', channel: 'web', acceptedAtMs: 1_000 },
    ]);
    expect(a.settle(running(), late + 1_000)).toEqual([]);
    expect(a.decide('j2', running(), late, 'web', 'call-2')).toEqual({ accept: true });
  });

  it('does not hand back a job seen running, though it ended before its deadline', () => {
    const a = admission(1);
    a.decide('j1', running(), 0, 'phone', 'call-1');
    expect(a.settle(running('j1'), 1_000)).toEqual([]);
    // The call ended: its seat is free and nobody is to be answered busy.
    expect(a.settle(running(), DEADLINE_MS + 1)).toEqual([]);
    expect(a.decide('j2', running(), DEADLINE_MS + 1).accept).toBe(true);
  });

  it('keeps an offer without a room as a reservation, handed back with no room', () => {
    const a = admission(1);
    a.decide('j1', running(), 0);
    expect(a.settle(running(), DEADLINE_MS + 1)).toEqual([
      { jobId: 'j1', room: undefined, channel: 'phone', acceptedAtMs: 0 },
    ]);
  });

  it('frees a browser seat whose job did not start by its deadline', () => {
    const a = admission(2, 1);
    a.decide('w1', running(), 0, 'web', 'web-1');
    expect(a.decide('w2', running(), 10, 'web', 'web-2')).toEqual({
      accept: false,
      reason: 'web_share_full',
    });
    expect(a.decide('w3', running(), DEADLINE_MS + 1, 'web', 'web-3')).toEqual({ accept: true });
  });

  it('gives up on every job not running when the worker closes, deadline or not', () => {
    const a = admission(3);
    a.decide('j1', running(), 0, 'phone', 'call-1');
    a.decide('j2', running(), 10, 'phone', 'call-2');
    a.decide('j3', running(), 20, 'web', 'call-3');
    expect(a.abandonPending(running('j2')).map((j) => [j.jobId, j.room])).toEqual([
      ['j1', 'call-1'],
      ['j3', 'call-3'],
    ]);
    expect(a.pendingCount(running('j2'), 30)).toBe(0);
    expect(a.abandonPending(running('j2'))).toEqual([]);
  });
});
