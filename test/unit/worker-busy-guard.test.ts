import { describe, expect, it } from 'vitest';
import { answerBusyUnlessTaken, type CallRoomProbe } from '../../src/worker/index.js';

/** A probe answering from a script of poll results; time advances only through `wait`. */
function scripted(answers: (boolean | undefined)[]) {
  let clock = 0;
  const deleted: string[] = [];
  let polls = 0;
  const probe: CallRoomProbe = {
    agentTookRoom: () => Promise.resolve(answers[Math.min(polls++, answers.length - 1)]),
    deleteRoom: (room) => {
      deleted.push(room);
      return Promise.resolve();
    },
  };
  return {
    probe,
    deleted,
    polls: () => polls,
    wait: (ms: number) => {
      clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
  };
}

describe('answerBusyUnlessTaken', () => {
  it.each([
    ['another worker took the call at once', [true], 'taken_elsewhere', 1],
    ['another worker took it during the grace period', [false, false, true], 'taken_elsewhere', 3],
    ['the caller hung up (room gone)', [false, undefined], 'room_gone', 2],
    ['nobody took it: the room is deleted (486 Busy Here)', [false], 'busy', 5],
  ] as const)('%s', async (_name, answers, outcome, polls) => {
    const s = scripted([...answers]);
    const result = await answerBusyUnlessTaken({
      room: 'call-1',
      agentName: 'switchboard',
      probe: s.probe,
      graceMs: 1000,
      pollMs: 250,
      wait: s.wait,
      now: s.now,
    });
    expect(result).toBe(outcome);
    expect(s.polls()).toBe(polls);
    expect(s.deleted).toEqual(outcome === 'busy' ? ['call-1'] : []);
  });

  it('with no grace period, checks once and answers busy', async () => {
    const s = scripted([false]);
    const result = await answerBusyUnlessTaken({
      room: 'r',
      agentName: 'a',
      probe: s.probe,
      graceMs: 0,
      wait: s.wait,
      now: s.now,
    });
    expect(result).toBe('busy');
    expect(s.polls()).toBe(1);
  });
});
