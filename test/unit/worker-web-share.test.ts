/**
 * A script holding every seat with browser calls: the worker keeps AGENT_PHONE_RESERVED_CALLS
 * seats for phone callers, deciding the channel from the caller model, never from raw attributes.
 */
import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import type { ParticipantSnapshot } from '../../src/caller/index.js';
import { Admission, callerChannel } from '../../src/worker/index.js';

const running = (...ids: string[]) => new Set(ids);
/** Longer than any test here runs: no reservation runs out unless a test says so. */
const launchDeadlineMs = 60_000;

describe('Admission with seats reserved for phone calls', () => {
  it('turns a browser call away once the browsers fill their share, and still seats phone calls', () => {
    const admission = new Admission({
      maxCalls: 3,
      phoneReservedCalls: 1,
      cpuUsage: () => 0,
      launchDeadlineMs,
    });
    expect(admission.webSeats).toBe(2);
    expect(admission.decide('w1', running(), 0, 'web')).toEqual({ accept: true });
    expect(admission.decide('w2', running('w1'), 1, 'web')).toEqual({ accept: true });
    // w2 accepted, not running yet: it already takes its seat.
    expect(admission.decide('w3', running('w1'), 2, 'web')).toEqual({
      accept: false,
      reason: 'web_share_full',
    });
    expect(admission.decide('p1', running('w1', 'w2'), 3, 'phone')).toEqual({ accept: true });
    expect(admission.decide('p2', running('w1', 'w2', 'p1'), 4, 'phone')).toEqual({
      accept: false,
      reason: 'at_call_limit',
    });
    // A browser call ended: its seat is free for another one.
    expect(admission.decide('w4', running('w2', 'p1'), 5, 'web')).toEqual({ accept: true });
  });

  it.each([
    ['no reservation: browsers may take every seat', 2, 0, ['web', 'web'], [true, true]],
    ['every seat reserved: no browser call at all', 2, 2, ['web', 'phone'], [false, true]],
    [
      'a call of unknown channel is decided as a phone call',
      2,
      1,
      ['web', undefined],
      [true, true],
    ],
  ] as const)('%s', (_name, maxCalls, reserved, channels, accepted) => {
    const admission = new Admission({
      maxCalls,
      phoneReservedCalls: reserved,
      cpuUsage: () => 0,
      launchDeadlineMs,
    });
    const ids: string[] = [];
    const got = channels.map((channel, i) => {
      const d = admission.decide(`j${i}`, running(...ids), i, channel);
      if (d.accept) ids.push(`j${i}`);
      return d.accept;
    });
    expect(got).toEqual(accepted);
  });

  it('frees the seat of a short call once a sweep saw it running, before the next offer', () => {
    const admission = new Admission({
      maxCalls: 2,
      phoneReservedCalls: 1,
      cpuUsage: () => 0,
      launchDeadlineMs,
    });
    expect(admission.decide('w1', running(), 0, 'web').accept).toBe(true);
    admission.settle(running('w1'), 1_000); // the worker's settle poll: w1 runs
    // w1 ended before the next offer: its seat is free, its reservation gone.
    expect(admission.decide('w2', running(), 8_000, 'web')).toEqual({ accept: true });
    // Without the sweep, the ended call's reservation would still hold the only web seat.
    const unswept = new Admission({
      maxCalls: 2,
      phoneReservedCalls: 1,
      cpuUsage: () => 0,
      launchDeadlineMs,
    });
    unswept.decide('w1', running(), 0, 'web');
    expect(unswept.decide('w2', running(), 8_000, 'web').accept).toBe(false);
  });

  it('forgets a browser call whose launch deadline passed', () => {
    const admission = new Admission({
      maxCalls: 2,
      phoneReservedCalls: 1,
      cpuUsage: () => 0,
      launchDeadlineMs: 1000,
    });
    expect(admission.decide('w1', running(), 0, 'web').accept).toBe(true);
    expect(admission.decide('w2', running(), 10, 'web').accept).toBe(false);
    expect(admission.decide('w3', running(), 1001, 'web').accept).toBe(true);
  });
});

describe('callerChannel', () => {
  const agent: ParticipantSnapshot = {
    identity: 'agent-1',
    kind: ParticipantKind.AGENT,
    attributes: {},
  };
  const browser: ParticipantSnapshot = {
    identity: 'web-user-1',
    kind: ParticipantKind.STANDARD,
    attributes: {},
  };
  const phone: ParticipantSnapshot = {
    identity: 'sip_+15550001',
    kind: ParticipantKind.SIP,
    attributes: { 'sip.ruleID': 'SDR_1', 'sip.phoneNumber': '+15550001' },
  };

  /** Answers from a script of listings; time advances only through `wait`. */
  function scripted(listings: ParticipantSnapshot[][]) {
    let clock = 0;
    let polls = 0;
    return {
      participants: {
        list: () => Promise.resolve(listings[Math.min(polls++, listings.length - 1)] ?? []),
      },
      wait: (ms: number) => {
        clock += ms;
        return Promise.resolve();
      },
      now: () => clock,
      polls: () => polls,
    };
  }

  it.each([
    ['a browser caller', [[agent, browser]], 'web', 1],
    ['a phone caller', [[phone]], 'phone', 1],
    ['a caller who joins a moment later', [[], [agent], [agent, phone]], 'phone', 3],
    ['nobody within the time allowed', [[agent]], undefined, 6],
  ] as const)('%s', async (_name, listings, channel, polls) => {
    const s = scripted(listings.map((l) => [...l]));
    const got = await callerChannel({
      room: 'r',
      participants: s.participants,
      timeoutMs: 500,
      pollMs: 100,
      wait: s.wait,
      now: s.now,
    });
    expect(got).toBe(channel);
    expect(s.polls()).toBe(polls);
  });
});
