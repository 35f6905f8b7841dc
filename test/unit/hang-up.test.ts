import { describe, expect, it } from 'vitest';
import { hangUp, type HangUpPort } from '../../src/call/hang-up.js';

/** Answers each call from a list (an error, or success), logging what was asked. */
function port(deletes: (Error | null)[], removes: (Error | null)[] = []) {
  const calls: string[] = [];
  const next = (list: (Error | null)[]) => {
    const r = list.shift();
    return r === null || r === undefined ? Promise.resolve() : Promise.reject(r);
  };
  const p: HangUpPort = {
    deleteRoom: (room) => (calls.push(`delete ${room}`), next(deletes)),
    removeParticipant: (room, id) => (calls.push(`remove ${room} ${id}`), next(removes)),
  };
  return { p, calls };
}
const down = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const notFound = () =>
  Object.assign(new Error('room not found'), { status: 404, code: 'not_found' });
const noSleep = { sleep: () => Promise.resolve() };

describe('hangUp', () => {
  it.each<[string, (Error | null)[], (Error | null)[], string, number]>([
    ['the room is deleted at once', [null], [], 'room_deleted', 1],
    ['a server that recovers on the third try', [down(), down(), null], [], 'room_deleted', 3],
    ['a room already gone counts as deleted', [notFound()], [], 'room_deleted', 1],
    [
      'deletion fails throughout: the caller is removed instead (livekit-sip sends BYE)',
      [down(), down(), down(), down()],
      [null],
      'participant_removed',
      5,
    ],
    [
      'nothing works: failed, after every retry of both',
      [down(), down(), down(), down()],
      [down(), down(), down(), down()],
      'failed',
      8,
    ],
  ])('%s', async (_name, deletes, removes, result, calls) => {
    const { p, calls: seen } = port(deletes, removes);
    const waits: number[] = [];
    const out = await hangUp(p, {
      room: 'call-1',
      callerIdentity: 'sip_caller',
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
    });
    expect(out).toBe(result);
    expect(seen).toHaveLength(calls);
    expect(waits.every((w) => w > 0)).toBe(true);
  });

  it('without a caller participant to remove, a room that cannot be deleted is failed', async () => {
    const { p, calls } = port([down(), down(), down(), down()]);
    expect(await hangUp(p, { room: 'r', callerIdentity: undefined, ...noSleep })).toBe('failed');
    expect(calls.every((c) => c.startsWith('delete'))).toBe(true);
  });
});
