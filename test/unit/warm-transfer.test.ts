/**
 * The warm-transfer orchestration over in-memory ports (src/transfer/ports.fake.ts): what is
 * asked of the world, in which order, and what the caller is left with on every path. The same
 * paths run on the real stack in test/e2e/transfer.test.ts; these add the ones the stack cannot
 * produce on demand (an unexpected error, MoveParticipant answering, a bridge that fails).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '../../src/caller/index.js';
import {
  CALLER_LEFT_NOTICE,
  noHandOffWorked,
  REFER_RACE_GRACE_MS,
  STEP_LIMITS_MS,
  transferDeadlineMs,
  TransferOptionsSchema,
  warmTransfer,
  type HandOffStrategy,
  type TransferRecord,
} from '../../src/transfer/index.js';
import { FakeTransferPorts, type FakeTransferScript } from '../../src/transfer/ports.fake.js';
import { phoneCaller as phone, webCaller as web } from '../support/callers.js';

const human = { number: '+15550001111', outboundTrunkId: 'ST_out' };

async function transfer(
  script: FakeTransferScript,
  opts: {
    caller?: Caller;
    strategy?: HandOffStrategy;
    callerGone?: AbortController;
    /** Hangs up the caller once the fake has logged this event. */
    hangUpAfter?: string;
  } = {},
) {
  const ports = new FakeTransferPorts(script);
  const callerGone = opts.callerGone ?? new AbortController();
  if (opts.hangUpAfter !== undefined) ports.after(opts.hangUpAfter, () => callerGone.abort());
  const handedOff: string[] = [];
  const result = await warmTransfer(
    {
      caller: opts.caller ?? phone,
      turns: [
        { role: 'caller', text: 'i want to speak to a person', at: new Date(0).toISOString() },
      ],
      options: TransferOptionsSchema.parse({ human, strategy: opts.strategy ?? 'refer_first' }),
      human,
      reason: 'billing question',
      callerGone: callerGone.signal,
      onHandedOff: (m) => handedOff.push(m),
    },
    ports,
  );
  return { result, ports, handedOff };
}

/**
 * The caller is taken off hold as the first act of a failure, before the consult leg is stopped
 * and ended (either may hang), and not resumed again after.
 */
function expectOffHoldFirst(events: string[], release: string) {
  const at = events.lastIndexOf(release);
  expect(at).toBeGreaterThan(-1);
  expect(events.slice(at + 1).filter((e) => e.startsWith('hold.'))).toEqual([]);
  expect(events.slice(at + 1)).toContain('consult.end');
  expect(events.slice(at + 1)).toContain('consult.stopAgent');
}

describe('warmTransfer: accepted', () => {
  it('SIP caller, REFER accepted: REFER to tel:<number>, consult leg ended, hold released without resuming the agent', async () => {
    const { result, ports, handedOff } = await transfer({});
    expect(result.outcome).toEqual({ status: 'completed', method: 'refer' });
    expect(ports.events).toEqual([
      'hold.start',
      'consult.dial +15550001111',
      'consult.brief',
      'refer tel:+15550001111',
      'consult.stopAgent',
      'consult.end',
      'hold.release',
    ]);
    expect(handedOff).toEqual(['refer']);
    expect(ports.sessionLive).toBe(false);
    expect(result.record).toMatchObject({
      status: 'completed',
      method: 'refer',
      handOffAttempts: [{ method: 'refer', status: 'completed' }],
    });
    expect(result.record.phases.handOffMs).toBeGreaterThanOrEqual(0);
  });

  it('REFER rejected with 603 on open-source livekit-server: MoveParticipant unsupported, so the bridge; no move attempt recorded', async () => {
    const { result, ports, handedOff } = await transfer({
      refer: [{ status: 'refused', sipStatus: 603, detail: 'refused' }],
      move: 'unsupported',
    });
    expect(result.outcome).toEqual({ status: 'completed', method: 'bridge' });
    expect(ports.events.slice(3)).toEqual([
      'refer tel:+15550001111',
      'consult.stopAgent',
      'move',
      'hold.release',
      'bridge',
    ]);
    expect(result.record.handOffAttempts).toEqual([
      { method: 'refer', status: 'refused', sipStatus: 603 },
      { method: 'bridge', status: 'completed' },
    ]);
    expect(result.joined?.method).toBe('bridge');
    expect(handedOff).toEqual(['bridge']);
    expect(ports.events).not.toContain('consult.end');
  });

  it('where MoveParticipant works, the human is moved into the caller room and the consult room is left, not ended', async () => {
    const moved = await transfer({ move: 'moved' }, { strategy: 'bridge_only' });
    expect(moved.result.outcome).toEqual({ status: 'completed', method: 'move' });
    expect(moved.ports.events.slice(-3)).toEqual(['move', 'hold.release', 'consult.leave']);
    expect(moved.ports.events).not.toContain('consult.end');
    expect(moved.result.joined).toMatchObject({
      method: 'move',
      consultRoomName: 'fake-room-consult',
    });
    expect(moved.ports.events).not.toContain('refer tel:+15550001111');
  });

  it('once the human has the caller, a clean-up error no longer turns it into a failure', async () => {
    const { result, handedOff } = await transfer(
      { move: 'moved', throwAt: 'release' },
      { strategy: 'bridge_only' },
    );
    expect(result.outcome).toEqual({ status: 'completed', method: 'move' });
    expect(handedOff).toEqual(['move']);
  });

  it('a MoveParticipant error other than "not implemented" is recorded, then the bridge is tried', async () => {
    const { result } = await transfer({ move: 'failed' }, { strategy: 'bridge_only' });
    expect(result.record.handOffAttempts).toEqual([
      { method: 'move', status: 'failed' },
      { method: 'bridge', status: 'completed' },
    ]);
  });

  it('a browser caller is never REFERred, whatever the strategy', async () => {
    const { result, ports } = await transfer({}, { caller: web, strategy: 'refer_first' });
    expect(result.outcome).toEqual({ status: 'completed', method: 'bridge' });
    expect(ports.events.some((e) => e.startsWith('refer'))).toBe(false);
  });

  it('bridge_first with a failing bridge: back on hold, then REFER', async () => {
    const { result, ports } = await transfer({ bridge: 'fails' }, { strategy: 'bridge_first' });
    expect(result.outcome).toEqual({ status: 'completed', method: 'refer' });
    expect(ports.events.slice(3)).toEqual([
      'consult.stopAgent',
      'move',
      'hold.release',
      'bridge',
      'hold.start',
      'refer tel:+15550001111',
      'consult.stopAgent',
      'consult.end',
      'hold.release',
    ]);
  });
});

describe('warmTransfer: every failure returns the caller to the agent, off hold, consult leg ended', () => {
  it.each<[string, FakeTransferScript, string, number | undefined]>([
    ['486 busy', { dial: { status: 'busy', sipStatus: 486, detail: 'busy' } }, 'busy', 486],
    ['no answer', { dial: { status: 'no_answer', detail: 'rang out' } }, 'no_answer', undefined],
    [
      'declined',
      { decision: { status: 'declined', detail: 'the human declined' } },
      'declined',
      undefined,
    ],
    [
      'voicemail',
      { decision: { status: 'voicemail', detail: 'voicemail' } },
      'voicemail',
      undefined,
    ],
    [
      'human hangs up during the briefing',
      { decision: { status: 'human_hung_up', detail: 'gone' } },
      'human_hung_up',
      undefined,
    ],
    [
      'REFER rejected and no other hand-off (bridge fails)',
      { refer: [{ status: 'refused', sipStatus: 603, detail: 'no' }], bridge: 'fails' },
      'failed',
      undefined,
    ],
    [
      'human hangs up after saying yes',
      { humanLeavesAfterDecision: true },
      'human_hung_up',
      undefined,
    ],
  ])('%s', async (_name, script, status, sipStatus) => {
    const { result, ports } = await transfer(script);
    expect(result.outcome.status).toBe(status);
    expect('sipStatus' in result.outcome ? result.outcome.sipStatus : undefined).toBe(sipStatus);
    expect(result.record.status).toBe(status);
    expectOffHoldFirst(ports.events, 'hold.release resume');
    expect(ports.events).toContain('consult.end');
    expect(ports.onHold).toBe(false);
    expect(ports.sessionLive).toBe(true);
  });

  it.each<[FakeTransferScript['throwAt']]>([
    ['hold'],
    ['dial'],
    ['brief'],
    ['refer'],
    ['move'],
    ['bridge'],
  ])(
    'an unexpected error at %s: failed, caller off hold with the agent, consult leg ended',
    async (throwAt) => {
      const { result, ports } = await transfer(
        { throwAt, refer: [{ status: 'refused', sipStatus: 603, detail: 'no' }] },
        { strategy: throwAt === 'refer' ? 'refer_first' : 'bridge_first' },
      );
      expect(result.outcome.status).toBe('failed');
      expect(result.record.detail).toMatch(/^the transfer stopped on an error \(\w+/);
      // The error's message (which could carry a number) stays out of the record.
      expect(result.record.detail).not.toMatch(/failed\)$/);
      expectOffHoldFirst(ports.events, 'hold.release resume');
      expect(ports.events).toContain('consult.end');
      expect(ports.sessionLive).toBe(true);
    },
  );

  it('caller hangs up while the human rings: the dial is cancelled (consult leg ended) and the agent is not resumed', async () => {
    const { result, ports } = await transfer(
      { dial: 'ring' },
      { hangUpAfter: 'consult.dial +15550001111' },
    );
    expect(result.outcome.status).toBe('caller_hung_up');
    expect(ports.events).toEqual([
      'hold.start',
      'consult.dial +15550001111',
      'consult.end',
      'hold.release',
      'consult.stopAgent',
      'consult.end',
    ]);
    expect(ports.sessionLive).toBe(false);
  });

  it('caller hangs up during the briefing: the human is told, then the consult leg ends', async () => {
    const { result, ports } = await transfer(
      { decision: 'wait' },
      { hangUpAfter: 'consult.brief' },
    );
    expect(result.outcome.status).toBe('caller_hung_up');
    expect(ports.events.slice(2)).toEqual([
      'consult.brief',
      'hold.release',
      `consult.tell ${CALLER_LEFT_NOTICE}`,
      'consult.stopAgent',
      'consult.end',
    ]);
    expect(result.record.consult.map((t) => t.text)).toContain(CALLER_LEFT_NOTICE);
  });

  it('caller hangs up during the last hand-off tried: caller_hung_up, and the human is told', async () => {
    const { result, ports } = await transfer(
      { bridge: 'fails', refer: [{ status: 'failed', detail: 'the REFER could not be sent' }] },
      { strategy: 'bridge_first', hangUpAfter: 'refer tel:+15550001111' },
    );
    expect(result.outcome.status).toBe('caller_hung_up');
    expect(ports.events).toContain(`consult.tell ${CALLER_LEFT_NOTICE}`);
    expectOffHoldFirst(ports.events, 'hold.release');
  });

  it('a caller gone during an unexpected error is not resumed', async () => {
    const { result, ports } = await transfer(
      { throwAt: 'brief' },
      { hangUpAfter: 'consult.brief' },
    );
    expect(result.outcome.status).toBe('failed');
    expectOffHoldFirst(ports.events, 'hold.release');
  });

  it('caller already gone when the transfer starts: nobody is dialled', async () => {
    const gone = new AbortController();
    gone.abort();
    const { result, ports } = await transfer({}, { callerGone: gone });
    expect(result.outcome.status).toBe('caller_hung_up');
    expect(ports.events.some((e) => e.startsWith('consult.dial'))).toBe(false);
  });
});

describe('warmTransfer: a step that hangs never leaves the caller on hold', () => {
  afterEach(() => vi.useRealTimers());

  it.each<[string, NonNullable<FakeTransferScript['hangAt']>, string]>([
    ['putting the caller on hold', ['hold'], 'hold'],
    ['dialling (no answer, no failure)', ['dial'], 'dial'],
    ['the briefing (the consult model stream hangs)', ['brief', 'stopAgent'], 'briefing'],
    ['the REFER', ['refer'], 'refer'],
    ['the bridge', ['bridge'], 'bridge'],
  ])(
    '%s: timed_out naming the step, the caller off hold and back with the agent',
    async (_name, hangAt, step) => {
      vi.useFakeTimers();
      const pending = transfer(
        { hangAt, refer: [{ status: 'refused', sipStatus: 603, detail: 'no' }] },
        { strategy: step === 'bridge' ? 'bridge_first' : 'refer_first' },
      );
      await vi.advanceTimersByTimeAsync(transferDeadlineMs(TransferOptionsSchema.parse({ human })));
      const { result, ports } = await pending;
      expect(result.outcome.status).toBe('timed_out');
      expect(result.record.detail).toContain(`${step} step`);
      expect(ports.onHold).toBe(false);
      expect(ports.sessionLive).toBe(true);
      expect(ports.events).toContain('consult.end');
    },
  );

  it('a caller who hangs up while the notice to the human hangs: the consult leg still ends', async () => {
    vi.useFakeTimers();
    const gone = new AbortController();
    const pending = transfer(
      { decision: 'wait', hangAt: ['tell'] },
      { callerGone: gone, hangUpAfter: 'consult.brief' },
    );
    await vi.advanceTimersByTimeAsync(STEP_LIMITS_MS.notice + 1_000);
    const { result, ports } = await pending;
    expect(result.outcome.status).toBe('caller_hung_up');
    expect(ports.events.slice(-2)).toEqual(['consult.stopAgent', 'consult.end']);
  });

  it.each([
    [{}, 10_000 + 30_000 + 15_000 + 60_000 + 15_000 + 20_000 + 15_000 + 15_000 + 20_000 + 10_000],
    [
      { ringingTimeoutMs: 5_000, consultTimeoutMs: 5_000, referTimeoutMs: 1_000 },
      10_000 + 5_000 + 15_000 + 5_000 + 15_000 + 1_000 + 15_000 + 15_000 + 20_000 + 10_000,
    ],
  ])('the whole transfer is limited to the sum of its steps: %j -> %d ms', (opts, ms) => {
    expect(transferDeadlineMs(TransferOptionsSchema.parse({ human, ...opts }))).toBe(ms);
  });
});

describe("warmTransfer: livekit-sip's REFER race", () => {
  afterEach(() => vi.useRealTimers());

  it('REFER timed out, then the caller leaves: transferred by REFER, the human is not bridged (rung twice)', async () => {
    vi.useFakeTimers();
    const gone = new AbortController();
    const pending = transfer(
      { refer: [{ status: 'timed_out', detail: 'no NOTIFY' }] },
      { callerGone: gone },
    );
    // The caller's leg ends a second after the REFER timed out (livekit-sip's BYE after NOTIFY 200).
    await vi.advanceTimersByTimeAsync(0);
    setTimeout(() => gone.abort(), 1_000);
    await vi.advanceTimersByTimeAsync(REFER_RACE_GRACE_MS);
    const { result, ports, handedOff } = await pending;
    expect(result.outcome).toEqual({ status: 'completed', method: 'refer' });
    expect(result.record.detail).toMatch(/taken as transferred/);
    expect(handedOff).toEqual(['refer']);
    expect(ports.events).not.toContain('bridge');
  });

  it('REFER timed out and the caller stays: the next hand-off is tried', async () => {
    vi.useFakeTimers();
    const pending = transfer({ refer: [{ status: 'timed_out', detail: 'no NOTIFY' }] });
    await vi.advanceTimersByTimeAsync(REFER_RACE_GRACE_MS + 100);
    const { result, ports } = await pending;
    expect(result.outcome).toEqual({ status: 'completed', method: 'bridge' });
    expect(ports.events).toContain('bridge');
  });
});

describe('noHandOffWorked: the status of an accepted transfer whose hand-offs all failed', () => {
  it.each<[string, TransferRecord['handOffAttempts'], string, number | undefined]>([
    [
      'REFER refused last',
      [{ method: 'refer', status: 'refused', sipStatus: 603 }],
      'refused',
      603,
    ],
    ['REFER timed out last', [{ method: 'refer', status: 'timed_out' }], 'timed_out', undefined],
    ['REFER could not be sent', [{ method: 'refer', status: 'failed' }], 'failed', undefined],
    [
      'bridge failed last',
      [
        { method: 'refer', status: 'refused', sipStatus: 603 },
        { method: 'bridge', status: 'failed' },
      ],
      'failed',
      undefined,
    ],
    ['nothing tried', [], 'failed', undefined],
  ])('%s', (_name, attempts, status, sipStatus) => {
    const failure = noHandOffWorked(attempts);
    expect(failure.status).toBe(status);
    expect(failure.sipStatus).toBe(sipStatus);
  });
});
