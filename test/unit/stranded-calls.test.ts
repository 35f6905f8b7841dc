import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import type { ParticipantSnapshot } from '../../src/caller/index.js';
import {
  DUPLICATE_SETTLE_MS,
  redispatchStrandedCalls,
  STRANDED_MIN_AGE_MS,
  type StrandedCallPort,
  type StrandedDispatch,
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

/** A dispatch of the table below: made with its room. */
function listed(room: string, r: Room): StrandedDispatch[] {
  return r.dispatches.map((d, i) => ({ id: `AD_${room}_${i}`, createdAtMs: r.createdAtMs, ...d }));
}

function port(rooms: Record<string, Room>): StrandedCallPort & { dispatched: string[][] } {
  const dispatched: string[][] = [];
  return {
    dispatched,
    listRooms: () =>
      Promise.resolve(
        Object.entries(rooms).map(([name, r]) => ({ name, createdAtMs: r.createdAtMs })),
      ),
    dispatches: (room) => {
      const r = rooms[room];
      return Promise.resolve(r === undefined ? [] : listed(room, r));
    },
    participants: (room) => Promise.resolve(rooms[room]?.participants ?? []),
    dispatch: (room, agentName, metadata) => {
      dispatched.push([room, agentName, metadata]);
      return Promise.resolve(`AD_new_${dispatched.length}`);
    },
    deleteDispatch: () => Promise.reject(new Error('nothing to delete here')),
  };
}

const noWait = () => Promise.resolve();

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
    const rooms = await redispatchStrandedCalls({
      port: p,
      agentName: 'switchboard',
      nowMs: NOW,
      wait: noWait,
    });
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
      wait: noWait,
      onRoomError: (room, err) => errors.push([room, err]),
    });
    expect(rooms).toEqual(['call-2']);
    expect(p.dispatched).toEqual([['call-2', 'switchboard', '{"b":2}']]);
    expect(errors).toEqual([['call-dead-node', unavailable]]);
  });
});

/**
 * One LiveKit server's dispatches, for several workers at once: ids and creation times as
 * livekit-server gives them, a job for no dispatch (nobody takes them here).
 */
class DispatchServer {
  dispatches: (StrandedDispatch & { room: string })[] = [
    { room: 'call-1', id: 'AD_original', createdAtMs: OLD, metadata: '{"a":1}', jobs: 0 },
  ];
  deleted: string[] = [];
  private made = 0;
  /** Resolved once `n` workers have looked at the participants (all have listed the dispatches). */
  private looked = 0;
  private release: (() => void) | undefined;
  private readonly allLooked: Promise<void>;

  constructor(private readonly workers: number) {
    this.allLooked = new Promise((resolve) => (this.release = resolve));
  }

  port(nowMs: () => number): StrandedCallPort {
    return {
      listRooms: () => Promise.resolve([{ name: 'call-1', createdAtMs: OLD }]),
      dispatches: (room, agentName) =>
        Promise.resolve(
          this.dispatches
            .filter((d) => d.room === room && agentName === 'switchboard')
            .map(({ room: _room, ...d }) => ({ ...d })),
        ),
      participants: async () => {
        if (++this.looked === this.workers) this.release?.();
        await this.allLooked;
        return [sipCaller];
      },
      dispatch: (room, _agentName, metadata) => {
        const id = `AD_made_${++this.made}`;
        this.dispatches.push({ room, id, createdAtMs: nowMs(), metadata, jobs: 0 });
        return Promise.resolve(id);
      },
      deleteDispatch: (_room, id) => {
        this.deleted.push(id);
        this.dispatches = this.dispatches.filter((d) => d.id !== id);
        return Promise.resolve();
      },
    };
  }
}

describe('two workers that find one stranded call together', () => {
  it('leave one new dispatch: the later one is deleted by the worker that made it', async () => {
    const server = new DispatchServer(2);
    let clock = NOW;
    const waits: number[] = [];
    const sweep = () =>
      redispatchStrandedCalls({
        port: server.port(() => clock++),
        agentName: 'switchboard',
        nowMs: NOW,
        wait: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      });
    const [first, second] = await Promise.all([sweep(), sweep()]);
    expect([...first, ...second]).toEqual(['call-1']);
    expect(server.dispatches.map((d) => d.id)).toEqual(['AD_original', 'AD_made_1']);
    expect(server.deleted).toEqual(['AD_made_2']);
    expect(waits).toEqual([DUPLICATE_SETTLE_MS, DUPLICATE_SETTLE_MS]);
  });

  it('made in the same millisecond: the smaller id stays, whichever worker looks first', async () => {
    const server = new DispatchServer(3);
    const sweep = () =>
      redispatchStrandedCalls({
        port: server.port(() => NOW),
        agentName: 'switchboard',
        nowMs: NOW,
        wait: noWait,
      });
    const results = await Promise.all([sweep(), sweep(), sweep()]);
    expect(results.flat()).toEqual(['call-1']);
    expect(server.dispatches.map((d) => d.id)).toEqual(['AD_original', 'AD_made_1']);
    expect(server.deleted.sort()).toEqual(['AD_made_2', 'AD_made_3']);
  });

  it('a worker that looks after another dispatched (its job not yet given) leaves the room alone', async () => {
    const server = new DispatchServer(1);
    const first = await redispatchStrandedCalls({
      port: server.port(() => NOW),
      agentName: 'switchboard',
      nowMs: NOW,
      wait: noWait,
    });
    expect(first).toEqual(['call-1']);
    const later = new DispatchServer(1);
    later.dispatches = server.dispatches;
    const second = await redispatchStrandedCalls({
      port: later.port(() => NOW + 1_000),
      agentName: 'switchboard',
      nowMs: NOW + 1_000,
      wait: noWait,
    });
    expect(second).toEqual([]);
    expect(later.dispatches.map((d) => d.id)).toEqual(['AD_original', 'AD_made_1']);
  });

  it('a duplicate that cannot be deleted is reported with its room', async () => {
    const server = new DispatchServer(2);
    const refused = new Error('twirp error unavailable');
    const errors: [string, unknown][] = [];
    const sweep = () => {
      const p = server.port(() => NOW);
      return redispatchStrandedCalls({
        port: { ...p, deleteDispatch: () => Promise.reject(refused) },
        agentName: 'switchboard',
        nowMs: NOW,
        wait: noWait,
        onRoomError: (room, err) => errors.push([room, err]),
      });
    };
    const results = await Promise.all([sweep(), sweep()]);
    expect(results.flat()).toEqual(['call-1']);
    expect(errors).toEqual([['call-1', refused]]);
  });
});
