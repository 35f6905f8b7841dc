/**
 * The campaign runner against a scripted dialer, in simulated time: pacing, caps, retries,
 * calling hours, do-not-call, trunk refusal, and resuming after a kill without dialling twice.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../src/campaigns/clock.fake.js';
import type { JournalEntry } from '../../src/campaigns/journal.js';
import { parseCampaignList, type CampaignList } from '../../src/campaigns/list.js';
import { parseCampaignPolicy, type CampaignPolicyInput } from '../../src/campaigns/policy.js';
import { callsLeftUp, runCampaign, type CampaignRunResult } from '../../src/campaigns/runner.js';
import { MemoryCampaignStore } from '../../src/campaigns/store.fake.js';
import { SwitchboardError } from '../../src/errors/index.js';
import { outcomeOf, ScriptedDialer, type ScriptedCall } from '../../src/outbound/dialer.fake.js';
import type { OutboundResult } from '../../src/outbound/outcome.js';

const num = (i: number) => `+1555010${String(i).padStart(4, '0')}`;

function csv(rows: string[], header = 'number,trunk,timezone'): CampaignList {
  return parseCampaignList([header, ...rows].join('\n'), 'csv', 'list.csv');
}

function numbers(count: number, extra = ''): CampaignList {
  return csv(
    Array.from({ length: count }, (_, i) => `${num(i + 1)}${extra}`),
    extra === '' ? 'number' : 'number,trunk',
  );
}

interface Setup {
  list: CampaignList;
  policy?: CampaignPolicyInput;
  script?: Record<string, (ScriptedCall | OutboundResult)[]>;
  timing?: { ringMs?: number; talkMs?: number };
  store?: MemoryCampaignStore;
  doNotCall?: string[];
  clock?: SimulatedClock;
  signal?: AbortSignal;
  /** Calls a killed earlier run left up at the callees. */
  leftUp?: { room: string; trunk: string; forMs: number }[];
}

async function campaign(setup: Setup) {
  const clock = setup.clock ?? new SimulatedClock();
  const dialer = new ScriptedDialer(clock, setup.script, setup.timing);
  for (const call of setup.leftUp ?? []) dialer.callAlreadyUp(call.room, call.trunk, call.forMs);
  const store = setup.store ?? new MemoryCampaignStore();
  const log: string[] = [];
  const startMs = clock.nowMs();
  const result: CampaignRunResult = await clock.run(
    runCampaign({
      list: setup.list,
      policy: parseCampaignPolicy({ trunk: 'carrier', ...setup.policy }),
      store,
      dialer,
      clock,
      doNotCall: new Set(setup.doNotCall),
      log: (line) => log.push(line),
      ...(setup.signal === undefined ? {} : { signal: setup.signal }),
    }),
  );
  const startsMs = dialer.placed.map((p) => p.atMs - startMs);
  return { result, dialer, store, log, clock, startsMs };
}

describe('pacing and caps', () => {
  it.each([
    { rate: 1, gapMs: 1000 },
    { rate: 2, gapMs: 500 },
    { rate: 0.5, gapMs: 2000 },
  ])('starts at most $rate call(s) per second: $gapMs ms apart', async ({ rate, gapMs }) => {
    const { startsMs, result } = await campaign({
      list: numbers(6),
      policy: { rate, concurrency: 10 },
    });
    expect(result.ending).toBe('completed');
    expect(startsMs).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * gapMs));
  });

  it('never has more calls under way than --concurrency, and fills every seat', async () => {
    const { dialer, result } = await campaign({
      list: numbers(20),
      policy: { concurrency: 3, rate: 100 },
      timing: { ringMs: 2_000, talkMs: 30_000 },
    });
    expect(dialer.placed).toHaveLength(20);
    expect(dialer.maxConcurrent).toBe(3);
    expect(result.status.counts.answered).toBe(20);
  });

  it('holds a seat until the call ends, not just until the outcome', async () => {
    const { startsMs } = await campaign({
      list: numbers(3),
      policy: { concurrency: 1, rate: 100 },
      timing: { ringMs: 1_000, talkMs: 60_000 },
    });
    expect(startsMs).toEqual([0, 61_000, 122_000]);
  });

  it('caps every trunk at its own limit inside the campaign cap', async () => {
    const list = csv(
      [
        ...Array.from({ length: 6 }, (_, i) => `${num(i)},sales`),
        ...Array.from({ length: 6 }, (_, i) => `${num(i + 10)},support`),
      ],
      'number,trunk',
    );
    const { dialer } = await campaign({
      list,
      policy: { concurrency: 4, rate: 100, trunkConcurrency: { sales: 1, '*': 2 } },
      timing: { ringMs: 1_000, talkMs: 20_000 },
    });
    expect(dialer.placed).toHaveLength(12);
    expect(dialer.maxConcurrentPerTrunk.get('sales')).toBe(1);
    expect(dialer.maxConcurrentPerTrunk.get('support')).toBe(2);
    expect(dialer.maxConcurrent).toBe(3);
  });

  it('passes each row its trunk, caller ID and the campaign agent', async () => {
    const list = parseCampaignList(
      `{"id":"a","number":"${num(1)}","trunk":"sales","from":"+15550999","callOptions":{"maxCallDurationMs":60000}}\n{"id":"b","number":"${num(2)}"}`,
      'jsonl',
      'list.jsonl',
    );
    const { dialer } = await campaign({
      list,
      policy: { agentName: 'reminders', from: '+15550888' },
    });
    expect(dialer.placed.map((p) => p.request)).toEqual([
      {
        to: num(1),
        agentName: 'reminders',
        trunk: 'sales',
        from: '+15550999',
        callOptions: { maxCallDurationMs: 60000 },
      },
      { to: num(2), agentName: 'reminders', trunk: 'carrier', from: '+15550888' },
    ]);
  });
});

describe('retries', () => {
  it.each(['busy', 'no_answer'] as const)(
    '%s is retried with backoff up to --max-attempts, then given up',
    async (result) => {
      const {
        dialer,
        startsMs,
        result: run,
        store,
      } = await campaign({
        list: numbers(1),
        policy: { maxAttempts: 3, retryDelayMs: 60_000, retryBackoff: 2, rate: 100 },
        script: { [num(1)]: [result] },
        timing: { ringMs: 5_000 },
      });
      expect(dialer.dials(num(1))).toBe(3);
      // Each wait counts from the outcome (5 s of ringing): 60 s, then 120 s.
      expect(startsMs).toEqual([0, 5_000 + 60_000, 5_000 + 60_000 + 5_000 + 120_000]);
      expect(run.status.rows[0]).toMatchObject({ state: result, attempts: 3 });
      expect(store.results.map((r) => [r.attempt, r.result])).toEqual([
        [1, result],
        [2, result],
        [3, result],
      ]);
    },
  );

  it('caps the backoff at --max-retry-delay-ms', async () => {
    const { startsMs } = await campaign({
      list: numbers(1),
      policy: { maxAttempts: 4, retryDelayMs: 10_000, retryBackoff: 10, maxRetryDelayMs: 50_000 },
      script: { [num(1)]: ['busy'] },
      timing: { ringMs: 0 },
    });
    expect(startsMs).toEqual([0, 10_000, 60_000, 110_000]);
  });

  it('stops retrying once a retry gets through', async () => {
    const { dialer, result } = await campaign({
      list: numbers(1),
      policy: { maxAttempts: 5, retryDelayMs: 1_000 },
      script: { [num(1)]: ['busy', 'no_answer', 'answered'] },
    });
    expect(dialer.dials(num(1))).toBe(3);
    expect(result.status.rows[0]?.state).toBe('answered');
  });

  it.each(['answered', 'voicemail', 'declined', 'failed'] as const)(
    '%s is final: dialled once',
    async (result) => {
      const { dialer, result: run } = await campaign({
        list: numbers(1),
        policy: { maxAttempts: 5, retryDelayMs: 1_000 },
        script: { [num(1)]: [result, 'answered'] },
      });
      expect(dialer.dials(num(1))).toBe(1);
      expect(run.status.rows[0]?.state).toBe(result);
    },
  );

  it('keeps other rows going while one waits for its retry', async () => {
    const { dialer } = await campaign({
      list: numbers(3),
      policy: { maxAttempts: 2, retryDelayMs: 600_000, rate: 1 },
      script: { [num(1)]: ['busy', 'answered'] },
      timing: { ringMs: 1_000, talkMs: 1_000 },
    });
    expect(dialer.placed.map((p) => p.request.to)).toEqual([num(1), num(2), num(3), num(1)]);
  });
});

describe('calling hours, in the callee’s time zone', () => {
  // 2026-03-02T15:00Z is 10:00 in New York and 00:00 (next day) in Tokyo.
  const at = Date.parse('2026-03-02T15:00:00Z');

  it.each([
    { zone: 'America/New_York', waitsMs: 0 },
    { zone: 'Europe/London', waitsMs: 0 },
    { zone: 'Asia/Tokyo', waitsMs: 9 * 3_600_000 },
    { zone: 'America/Los_Angeles', waitsMs: 2 * 3_600_000 },
  ])(
    'a row in $zone at 15:00 UTC is dialled after $waitsMs ms (09:00-20:00)',
    async ({ zone, waitsMs }) => {
      const { startsMs, result } = await campaign({
        clock: new SimulatedClock(at),
        list: csv([`${num(1)},,${zone}`]),
        policy: { window: '09:00-20:00' },
      });
      expect(startsMs).toEqual([waitsMs]);
      expect(result.status.counts.answered).toBe(1);
    },
  );

  it('uses --timezone for rows without a time zone', async () => {
    const { startsMs } = await campaign({
      clock: new SimulatedClock(at),
      list: numbers(1),
      policy: { window: '09:00-20:00', timezone: 'Asia/Tokyo' },
    });
    expect(startsMs).toEqual([9 * 3_600_000]);
  });

  it('dials the rows whose window is open while the others wait', async () => {
    const { dialer } = await campaign({
      clock: new SimulatedClock(at),
      list: csv([`${num(1)},,Asia/Tokyo`, `${num(2)},,America/New_York`]),
      policy: { window: '09:00-20:00' },
    });
    expect(dialer.placed.map((p) => p.request.to)).toEqual([num(2), num(1)]);
  });

  it('skips, with the reason, a row whose window does not open before --until', async () => {
    const { dialer, result, store } = await campaign({
      clock: new SimulatedClock(at),
      list: csv([`${num(1)},,Asia/Tokyo`, `${num(2)},,America/New_York`]),
      policy: { window: '09:00-20:00', untilMs: at + 3_600_000 },
    });
    expect(dialer.placed.map((p) => p.request.to)).toEqual([num(2)]);
    expect(result.ending).toBe('completed');
    expect(result.status.rows.map((r) => r.state)).toEqual(['deferred', 'answered']);
    expect(store.entries.find((e) => e.type === 'deferred')).toMatchObject({
      rowId: '1',
      reason: 'outside_calling_hours',
    });
  });

  it('does not start a retry after --until; the row is put off', async () => {
    const { dialer, result } = await campaign({
      clock: new SimulatedClock(at),
      list: numbers(1),
      policy: { maxAttempts: 3, retryDelayMs: 600_000, untilMs: at + 300_000 },
      script: { [num(1)]: ['busy'] },
    });
    expect(dialer.dials(num(1))).toBe(1);
    expect(result.ending).toBe('until_passed');
    expect(result.status.rows[0]?.state).toBe('deferred');
  });
});

describe('rows never dialled', () => {
  it('never dials a do-not-call number, and reports it as such', async () => {
    const { dialer, result } = await campaign({
      list: numbers(3),
      doNotCall: [num(2)],
    });
    expect(dialer.dials(num(2))).toBe(0);
    expect(dialer.placed).toHaveLength(2);
    expect(result.status.rows.map((r) => r.state)).toEqual(['answered', 'do_not_call', 'answered']);
  });

  it('dials a number listed twice once, the later row reported as a duplicate', async () => {
    const { dialer, result } = await campaign({
      list: csv([num(1), num(2), num(1)], 'number'),
    });
    expect(dialer.dials(num(1))).toBe(1);
    expect(result.status.counts).toMatchObject({ answered: 2, duplicate: 1 });
  });
});

describe('stopping', () => {
  it.each([403, 503])(
    'stops the whole campaign when the trunk answers %i to calls in a row',
    async (sipStatus) => {
      const script = Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [
          num(i + 1),
          [{ outcome: outcomeOf(sipStatus === 403 ? 'declined' : 'failed', sipStatus) }],
        ]),
      );
      const { dialer, result, store } = await campaign({
        list: numbers(10),
        policy: { concurrency: 1, refusalsToStop: 3 },
        script,
      });
      expect(dialer.placed).toHaveLength(3);
      expect(result.ending).toBe('stopped');
      expect(result.stopReason?.code).toBe('campaign_trunk_refused');
      expect(result.stopReason?.message).toContain('Trunk "carrier" refused 3 call(s) in a row');
      expect(result.status.counts.pending).toBe(7);
      expect(store.entries.at(-1)).toMatchObject({
        type: 'stopped',
        code: 'campaign_trunk_refused',
      });
    },
  );

  it('takes a 403 between answered calls for one callee declining, not the trunk', async () => {
    const refused = [{ outcome: outcomeOf('declined', 403) }];
    const { dialer, result } = await campaign({
      list: numbers(6),
      policy: { refusalsToStop: 2 },
      script: { [num(1)]: refused, [num(3)]: refused, [num(5)]: refused },
    });
    expect(dialer.placed).toHaveLength(6);
    expect(result.ending).toBe('completed');
    expect(result.status.counts).toMatchObject({ answered: 3, declined: 3 });
  });

  it('counts refusals per trunk', async () => {
    const list = csv(
      Array.from({ length: 6 }, (_, i) => `${num(i + 1)},${i % 2 === 0 ? 'bad' : 'good'}`),
      'number,trunk',
    );
    const refused = [{ outcome: outcomeOf('failed', 503) }];
    const { result } = await campaign({
      list,
      policy: { refusalsToStop: 3 },
      script: { [num(1)]: refused, [num(3)]: refused, [num(5)]: refused },
    });
    expect(result.stopReason?.code).toBe('campaign_trunk_refused');
    expect(result.stopReason?.message).toContain('"bad"');
  });

  it('stops at once when the dialer cannot place calls at all, without using the attempt', async () => {
    const clock = new SimulatedClock();
    const dialer = new ScriptedDialer(clock);
    dialer.rejectPlace(
      '*',
      new SwitchboardError('outbound_trunk_missing', 'no outbound trunk named "carrier"'),
    );
    const store = new MemoryCampaignStore();
    const result = await clock.run(
      runCampaign({
        list: numbers(5),
        policy: parseCampaignPolicy({ trunk: 'carrier', concurrency: 1 }),
        store,
        dialer,
        clock,
      }),
    );
    expect(result.stopReason?.code).toBe('campaign_dial_failed');
    expect(result.stopReason?.message).toContain('outbound_trunk_missing');
    expect(store.entries.filter((e) => e.type === 'started')).toHaveLength(1);
    expect(result.status.rows.map((r) => [r.state, r.attempts])).toEqual(
      Array.from({ length: 5 }, () => ['pending', 0]),
    );
  });

  it('on abort starts no further call, and records the outcomes of those under way', async () => {
    const controller = new AbortController();
    const clock = new SimulatedClock();
    // Ctrl-C 6 s in: both calls answered (after 5 s of ringing), talking for another minute.
    const ctrlC = clock.sleep(6_000).then(() => controller.abort());
    const { dialer, result, store, startsMs } = await campaign({
      clock,
      list: numbers(10),
      policy: { concurrency: 2, rate: 100 },
      timing: { ringMs: 5_000, talkMs: 60_000 },
      signal: controller.signal,
    });
    await ctrlC;
    expect(startsMs).toEqual([0, 10]);
    expect(clock.nowMs() - Date.parse('2026-03-02T15:00:00Z')).toBe(6_000);
    expect(dialer.placed).toHaveLength(2);
    expect(result.ending).toBe('aborted');
    expect(store.results.map((r) => [r.rowId, r.result, r.endedAt])).toEqual([
      ['1', 'answered', undefined],
      ['2', 'answered', undefined],
    ]);
  });

  it('rejects, with nothing dialled, rows without a trunk', async () => {
    const clock = new SimulatedClock();
    const dialer = new ScriptedDialer(clock);
    const run = runCampaign({
      list: csv([`${num(1)},sales`, `${num(2)},`], 'number,trunk'),
      policy: parseCampaignPolicy({}),
      store: new MemoryCampaignStore(),
      dialer,
      clock,
    });
    await expect(run).rejects.toThrow(
      /No outbound trunk for the rows at line\(s\) 3; nothing was dialled/,
    );
    expect(dialer.placed).toHaveLength(0);
  });

  it('stops dialling when the state cannot be written', async () => {
    const store = new MemoryCampaignStore();
    store.failOn = 'started';
    const clock = new SimulatedClock();
    const dialer = new ScriptedDialer(clock);
    await expect(
      clock.run(
        runCampaign({
          list: numbers(3),
          policy: parseCampaignPolicy({ trunk: 'c' }),
          store,
          dialer,
          clock,
        }),
      ),
    ).rejects.toThrow('disk full');
    expect(dialer.placed).toHaveLength(0);
  });
});

describe('resuming after a kill', () => {
  /** The journal of a first run killed while rows 1 and 2 were being dialled (row 3 never). */
  function killedJournal(list: CampaignList): JournalEntry[] {
    const [first, second] = list.rows.map((r) => r.id);
    return [
      {
        type: 'run',
        atMs: 0,
        pid: 1,
        listFile: list.file,
        listDigest: list.digest,
        hasIds: list.hasIds,
        rows: list.rows.map((r) => ({ id: r.id, masked: '**', trunk: 'carrier' })),
        skipped: [],
        maxAttempts: 3,
        retryDelayMs: 1_000,
        retryBackoff: 1,
        maxRetryDelayMs: 1_000,
      },
      { type: 'started', atMs: 1, rowId: first ?? '', attempt: 1, trunk: 'carrier' },
      {
        type: 'outcome',
        atMs: 2,
        rowId: first ?? '',
        attempt: 1,
        result: 'busy',
        sipStatus: 486,
        detail: 'busy',
      },
      { type: 'started', atMs: 3, rowId: first ?? '', attempt: 2, trunk: 'carrier' },
      { type: 'started', atMs: 4, rowId: second ?? '', attempt: 1, trunk: 'carrier' },
    ];
  }

  /** The journal with a `placed` entry after each `started` one. */
  function withRooms(entries: JournalEntry[]): JournalEntry[] {
    return entries.flatMap((e): JournalEntry[] =>
      e.type === 'started'
        ? [
            e,
            {
              type: 'placed',
              atMs: e.atMs,
              rowId: e.rowId,
              attempt: e.attempt,
              room: `room-${e.rowId}-${e.attempt}`,
            },
          ]
        : [e],
    );
  }

  it('does not redial an attempt that was started without an outcome', async () => {
    const list = numbers(3);
    const clock = new SimulatedClock();
    const store = MemoryCampaignStore.reopen(killedJournal(list), clock.nowMs());
    const { dialer, result } = await campaign({
      clock,
      list,
      store,
      policy: { maxAttempts: 3, retryDelayMs: 1_000 },
    });
    expect(dialer.placed.map((p) => p.request.to)).toEqual([num(3)]);
    expect(result.status.rows.map((r) => [r.id, r.state, r.attempts])).toEqual([
      ['1', 'interrupted', 2],
      ['2', 'interrupted', 1],
      ['3', 'answered', 1],
    ]);
    expect(
      store.entries.filter((e) => e.type === 'interrupted').map((e) => [e.rowId, e.attempt]),
    ).toEqual([
      ['1', 2],
      ['2', 1],
    ]);
  });

  it('holds the seats of calls the killed run left up until they end', async () => {
    const list = numbers(3);
    const [first, second] = list.rows.map((r) => r.id);
    // Row 1 answered and still talking; row 2 placed, its outcome lost with the process.
    const journal: JournalEntry[] = [
      ...killedJournal(list).slice(0, 1),
      { type: 'started', atMs: 1, rowId: first ?? '', attempt: 1, trunk: 'carrier' },
      { type: 'placed', atMs: 2, rowId: first ?? '', attempt: 1, room: 'call-out-old-1' },
      {
        type: 'outcome',
        atMs: 3,
        rowId: first ?? '',
        attempt: 1,
        result: 'answered',
        detail: 'answered',
        room: 'call-out-old-1',
      },
      { type: 'started', atMs: 4, rowId: second ?? '', attempt: 1, trunk: 'carrier' },
      { type: 'placed', atMs: 5, rowId: second ?? '', attempt: 1, room: 'call-out-old-2' },
    ];
    const clock = new SimulatedClock();
    const { dialer, startsMs, result, log } = await campaign({
      clock,
      list,
      store: MemoryCampaignStore.reopen(journal, clock.nowMs()),
      policy: { concurrency: 2, rate: 100 },
      timing: { ringMs: 1_000, talkMs: 10_000 },
      leftUp: [
        { room: 'call-out-old-1', trunk: 'carrier', forMs: 20_000 },
        { room: 'call-out-old-2', trunk: 'carrier', forMs: 40_000 },
      ],
    });
    // Both seats are taken until the first old call ends.
    expect(startsMs).toEqual([20_000]);
    expect(dialer.placed.map((p) => p.request.to)).toEqual([num(3)]);
    expect(dialer.maxConcurrent).toBe(2);
    expect(result.status.rows.map((r) => [r.id, r.state])).toEqual([
      ['1', 'answered'],
      ['2', 'interrupted'],
      ['3', 'answered'],
    ]);
    expect(log).toContain(
      '2 call(s) an earlier run placed are still up; their seats are held until they end',
    );
  });

  it('holds no seat for a call of the killed run that has ended', async () => {
    const list = numbers(3);
    const clock = new SimulatedClock();
    // The killed run's three rooms are gone (the dialer knows none of them as up).
    const { startsMs, log } = await campaign({
      clock,
      list,
      store: MemoryCampaignStore.reopen(withRooms(killedJournal(list)), clock.nowMs()),
      policy: { concurrency: 1, rate: 100 },
    });
    expect(startsMs).toEqual([0]);
    expect(log.filter((l) => l.includes('still up'))).toEqual([]);
  });

  it('journals the room of each call it places, before the outcome', async () => {
    const { store } = await campaign({ list: numbers(2), policy: { rate: 100 } });
    const kinds = store.entries
      .filter((e) => e.type === 'started' || e.type === 'placed' || e.type === 'outcome')
      .map((e) => `${e.type}:${e.rowId}${e.type === 'started' ? '' : `:${e.room ?? ''}`}`);
    expect(kinds.filter((k) => k.endsWith(':1') || k.includes(':1:'))).toEqual([
      'started:1',
      'placed:1:call-out-fake-1',
      'outcome:1:call-out-fake-1',
    ]);
  });

  it.each<[string, (list: CampaignList) => JournalEntry[], string[]]>([
    [
      'a killed run: its calls',
      (l) => withRooms(killedJournal(l)),
      ['room-1-1', 'room-1-2', 'room-2-1'],
    ],
    [
      'a run that finished after it: none',
      (l) => [...withRooms(killedJournal(l)), { type: 'finished', atMs: 9 }],
      [],
    ],
    [
      'a stopped run, then a killed one: the killed one’s',
      (l) => [
        ...withRooms(killedJournal(l)).slice(0, 4),
        { type: 'stopped', atMs: 5, code: 'aborted', reason: 'Ctrl-C' },
        ...withRooms(killedJournal(l)).slice(4),
      ],
      ['room-1-2', 'room-2-1'],
    ],
  ])('calls left up after %s', (_name, journal, rooms) => {
    expect(callsLeftUp(journal(numbers(3))).map((c) => c.room)).toEqual(rooms);
  });

  it('resumes a busy row’s retries where they were, numbering attempts on', async () => {
    const list = numbers(2);
    const journal = killedJournal(list).slice(0, 3);
    const clock = new SimulatedClock();
    const store = MemoryCampaignStore.reopen(journal, clock.nowMs());
    const { dialer, store: after } = await campaign({
      clock,
      list,
      store,
      policy: { maxAttempts: 3, retryDelayMs: 1_000 },
    });
    expect(dialer.placed.map((p) => p.request.to).sort()).toEqual([num(1), num(2)]);
    expect(
      after.entries.filter((e) => e.type === 'started').map((e) => [e.rowId, e.attempt]),
    ).toEqual([
      ['1', 1],
      ['1', 2],
      ['2', 1],
    ]);
  });

  it('dials nothing again when a finished campaign runs again', async () => {
    const list = numbers(4);
    const first = await campaign({
      list,
      script: { [num(2)]: ['busy'] },
      policy: { maxAttempts: 2, retryDelayMs: 1 },
    });
    expect(first.dialer.placed).toHaveLength(5);
    const again = await campaign({
      list,
      store: MemoryCampaignStore.reopen(first.store.entries, 0),
      policy: { maxAttempts: 2 },
    });
    expect(again.dialer.placed).toHaveLength(0);
    expect(again.result.status.counts).toMatchObject({ answered: 3, busy: 1 });
  });

  it('refuses to resume with another list when rows have no ids', async () => {
    const store = MemoryCampaignStore.reopen(killedJournal(numbers(3)), 0);
    const clock = new SimulatedClock();
    const dialer = new ScriptedDialer(clock);
    await expect(
      runCampaign({
        list: csv([num(7), num(1), num(2)], 'number'),
        policy: parseCampaignPolicy({ trunk: 'carrier' }),
        store,
        dialer,
        clock,
      }),
    ).rejects.toMatchObject({ code: 'campaign_state_conflict' });
    expect(dialer.placed).toHaveLength(0);
  });

  it('matches rows by id when the list with ids was edited', async () => {
    const before = parseCampaignList(`id,number\na,${num(1)}\nb,${num(2)}`, 'csv', 'l.csv');
    const first = await campaign({ list: before });
    const edited = parseCampaignList(
      `id,number\nc,${num(3)}\nb,${num(2)}\na,${num(1)}`,
      'csv',
      'l.csv',
    );
    const again = await campaign({
      list: edited,
      store: MemoryCampaignStore.reopen(first.store.entries, 0),
    });
    expect(again.dialer.placed.map((p) => p.request.to)).toEqual([num(3)]);
  });
});
