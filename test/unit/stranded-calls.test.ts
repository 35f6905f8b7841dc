import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import type { ParticipantSnapshot } from '../../src/caller/index.js';
import {
  redispatchStrandedCalls,
  STRANDED_MIN_AGE_MS,
  type StrandedCallPort,
} from '../../src/worker/stranded-calls.js';

const NOW = 1_000_000;
const OLD = NOW - STRANDED_MIN_AGE_MS;
const sipCaller: ParticipantSnapshot = {
  identity: 'sip_+15550100',
  kind: ParticipantKind.SIP,
  attributes: {},
};
const ourAgent: ParticipantSnapshot = {
  identity: 'agent-1',
  kind: ParticipantKind.AGENT,
  attributes: { 'lk.agent.name': 'switchboard' },
};
const otherAgent: ParticipantSnapshot = {
  identity: 'agent-2',
  kind: ParticipantKind.AGENT,
  attributes: { 'lk.agent.name': 'other' },
};

interface Room {
  createdAtMs: number;
  dispatches: { metadata: string; jobs: number }[];
  participants: ParticipantSnapshot[];
}

function port(rooms: Record<string, Room>): StrandedCallPort & { dispatched: string[][] } {
  const dispatched: string[][] = [];
  return {
    dispatched,
    listRooms: () =>
      Promise.resolve(
        Object.entries(rooms).map(([name, r]) => ({ name, createdAtMs: r.createdAtMs })),
      ),
    dispatches: (room) => Promise.resolve(rooms[room]?.dispatches ?? []),
    participants: (room) => Promise.resolve(rooms[room]?.participants ?? []),
    dispatch: (room, agentName, metadata) => {
      dispatched.push([room, agentName, metadata]);
      return Promise.resolve();
    },
  };
}

describe('redispatchStrandedCalls', () => {
  it.each<[string, Room, boolean]>([
    [
      'a caller waiting, a dispatch without a job',
      {
        createdAtMs: OLD,
        dispatches: [{ metadata: '{"a":1}', jobs: 0 }],
        participants: [sipCaller],
      },
      true,
    ],
    [
      'a dispatch without a job, another agent in the room',
      {
        createdAtMs: OLD,
        dispatches: [{ metadata: '', jobs: 0 }],
        participants: [sipCaller, otherAgent],
      },
      true,
    ],
    [
      'a room too young: its offer may still be in flight',
      {
        createdAtMs: NOW - STRANDED_MIN_AGE_MS + 1,
        dispatches: [{ metadata: '', jobs: 0 }],
        participants: [sipCaller],
      },
      false,
    ],
    [
      'a dispatch that has a job',
      { createdAtMs: OLD, dispatches: [{ metadata: '', jobs: 1 }], participants: [sipCaller] },
      false,
    ],
    [
      'a stale dispatch beside one with a job',
      {
        createdAtMs: OLD,
        dispatches: [
          { metadata: '', jobs: 0 },
          { metadata: '', jobs: 1 },
        ],
        participants: [sipCaller],
      },
      false,
    ],
    [
      'no dispatch for this agent',
      { createdAtMs: OLD, dispatches: [], participants: [sipCaller] },
      false,
    ],
    [
      'nobody calling',
      { createdAtMs: OLD, dispatches: [{ metadata: '', jobs: 0 }], participants: [] },
      false,
    ],
    [
      'this agent already in the room',
      {
        createdAtMs: OLD,
        dispatches: [{ metadata: '', jobs: 0 }],
        participants: [sipCaller, ourAgent],
      },
      false,
    ],
  ])('%s', async (_name, room, expected) => {
    const p = port({ 'call-1': room });
    const rooms = await redispatchStrandedCalls({ port: p, agentName: 'switchboard', nowMs: NOW });
    expect(rooms).toEqual(expected ? ['call-1'] : []);
    expect(p.dispatched).toEqual(
      expected ? [['call-1', 'switchboard', room.dispatches[0]?.metadata ?? '']] : [],
    );
  });
});

describe('a room that cannot be looked at', () => {
  it('is reported and skipped; the other rooms are still swept (a room of a dead node)', async () => {
    const p = port({
      'call-dead-node': {
        createdAtMs: OLD,
        dispatches: [{ metadata: '', jobs: 0 }],
        participants: [sipCaller],
      },
      'call-2': {
        createdAtMs: OLD,
        dispatches: [{ metadata: '{"b":2}', jobs: 0 }],
        participants: [sipCaller],
      },
    });
    const unavailable = new Error('twirp error unknown: no response from servers');
    const dispatches = p.dispatches.bind(p);
    p.dispatches = (room, agentName) =>
      room === 'call-dead-node' ? Promise.reject(unavailable) : dispatches(room, agentName);
    const errors: [string, unknown][] = [];
    const rooms = await redispatchStrandedCalls({
      port: p,
      agentName: 'switchboard',
      nowMs: NOW,
      onRoomError: (room, err) => errors.push([room, err]),
    });
    expect(rooms).toEqual(['call-2']);
    expect(p.dispatched).toEqual([['call-2', 'switchboard', '{"b":2}']]);
    expect(errors).toEqual([['call-dead-node', unavailable]]);
  });
});
