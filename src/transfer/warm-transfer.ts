import type { CallRecord } from '../call-records/index.js';
import type { Caller } from '../caller/index.js';
import { briefingText } from './briefing.js';
import { CALLER_LEFT_NOTICE } from './explanations.js';
import type { TransferOptions } from './options.js';
import type { HandOffMethod, TransferFailure, TransferOutcome } from './outcome.js';
import type { JoinedCall, WarmTransferPorts } from './ports.js';
import type { TransferRecord } from './record.js';
import {
  STEP_LIMITS_MS,
  transferDeadlineMs,
  TransferStepTimeout,
  within,
} from './step-deadline.js';
import { handOffSteps } from './strategy.js';
import { referTarget } from './target.js';

export interface WarmTransferInput {
  caller: Caller;
  turns: CallRecord['turns'];
  options: TransferOptions;
  human: NonNullable<TransferOptions['human']>;
  reason: string;
  /** Aborted when the caller hangs up or the job shuts down. */
  callerGone: AbortSignal;
  /** Called the moment the caller is handed over, before the remaining clean-up. */
  onHandedOff?: (method: HandOffMethod) => void;
}

export interface WarmTransferResult {
  outcome: TransferOutcome;
  record: TransferRecord;
  joined?: JoinedCall;
}

/**
 * A warm transfer: hold the caller, dial and brief the human in a private consult room, and on
 * their yes hand the caller over (REFER, MoveParticipant or a bridge, per the strategy, falling
 * back in order). Every failure, an unexpected error included, returns the caller to the agent,
 * off hold, and ends the consult leg. Decides only; `ports` act (LiveKit's in livekit-ports.ts).
 */
export async function warmTransfer(
  input: WarmTransferInput,
  ports: WarmTransferPorts,
): Promise<WarmTransferResult> {
  const { options, human, callerGone } = input;
  const { hold, consult } = ports;
  const limits = STEP_LIMITS_MS;
  const record: TransferRecord = {
    kind: 'warm',
    destination: human.number,
    ...(input.reason === '' ? {} : { reason: input.reason }),
    status: 'failed',
    handOffAttempts: [],
    consult: [],
    startedAt: new Date().toISOString(),
    phases: {},
  };
  const since = (t: number) => Math.round(performance.now() - t);
  const holdStart = performance.now();
  let acceptedAt = holdStart;
  // Set once the result is decided (a failure, the deadline, a hand-off): a run still inside a
  // step stops at its next one instead of acting on a call that has moved on.
  let finished = false;
  // A caller who hangs up while the human's line rings: ending the consult leg cancels the INVITE.
  const cancelDial = () => void consult.end().catch(() => undefined);
  const step = <T>(work: () => Promise<T>, limitMs: number, name: string): Promise<T> =>
    finished ? Promise.reject(new TransferAbandoned()) : within(work(), limitMs, name);
  const quietly = (work: Promise<unknown>, limitMs: number, name: string) =>
    within(work, limitMs, name).catch(() => undefined);

  let failing: Promise<WarmTransferResult> | undefined;
  const fail = (failure: TransferFailure): Promise<WarmTransferResult> =>
    (failing ??= failNow(failure));
  const failNow = async (failure: TransferFailure): Promise<WarmTransferResult> => {
    finished = true;
    callerGone.removeEventListener('abort', cancelDial);
    // The caller first: off hold, and back with the agent if still there, before anything on the
    // human's side, any of which may itself hang.
    await quietly(hold.release(!callerGone.aborted), limits.release, 'release');
    if (failure.status === 'caller_hung_up' && consult.humanPresent)
      await quietly(consult.tell(CALLER_LEFT_NOTICE), limits.notice, 'notice');
    await quietly(consult.stopAgent(), limits.cleanUp, 'stop the consult agent');
    await quietly(consult.end(), limits.cleanUp, 'end the consult leg');
    record.phases.holdMs = since(holdStart);
    record.consult = [...consult.transcript];
    Object.assign(record, {
      status: failure.status,
      detail: failure.detail,
      ...(failure.sipStatus === undefined ? {} : { sipStatus: failure.sipStatus }),
    });
    return { outcome: failure, record };
  };

  const handedOff = (method: HandOffMethod) => {
    finished = true;
    try {
      input.onHandedOff?.(method);
    } catch {
      // The caller is with the human whatever the listener did.
    }
  };

  const connected = (method: HandOffMethod, joined?: JoinedCall): WarmTransferResult => {
    record.consult = [...consult.transcript];
    record.status = 'completed';
    record.method = method;
    record.connectedAt = new Date().toISOString();
    record.phases.handOffMs = since(acceptedAt);
    record.phases.holdMs = since(holdStart);
    return {
      outcome: { status: 'completed', method },
      record,
      ...(joined === undefined ? {} : { joined }),
    };
  };

  const referred = async (): Promise<WarmTransferResult> => {
    // livekit-sip hangs up the caller 1 s after NOTIFY 200: the call is transferred from now,
    // and nothing after this point may turn it into a failure.
    handedOff('refer');
    // The caller now talks to the human's own line; the consult leg and the hold end here.
    await quietly(consult.stopAgent(), limits.cleanUp, 'stop the consult agent');
    await quietly(consult.end(), limits.cleanUp, 'end the consult leg');
    await quietly(hold.release(false), limits.release, 'release');
    return connected('refer');
  };

  const run = async (): Promise<WarmTransferResult> => {
    await step(() => hold.start(), limits.hold, 'hold');
    callerGone.addEventListener('abort', cancelDial, { once: true });
    if (isAborted(callerGone))
      return fail({
        status: 'caller_hung_up',
        detail: 'the caller hung up before the human was dialled',
      });
    const dialStart = performance.now();
    const dialFailed = await step(
      () => consult.dial(human, options.ringingTimeoutMs, callerGone),
      options.ringingTimeoutMs + limits.margin,
      'dial',
    );
    record.phases.ringMs = since(dialStart);
    if (dialFailed !== undefined) return fail(dialFailed);
    callerGone.removeEventListener('abort', cancelDial);
    if (isAborted(callerGone))
      return fail({
        status: 'caller_hung_up',
        detail: 'the caller hung up while the human was dialled',
      });

    const consultStart = performance.now();
    const decision = await step(
      () =>
        consult.brief(
          briefingText({ reason: input.reason, channel: input.caller.channel, turns: input.turns }),
          options.consultTimeoutMs,
          callerGone,
        ),
      options.consultTimeoutMs + limits.margin,
      'briefing',
    );
    record.phases.consultMs = since(consultStart);
    if (decision.status !== 'accepted') return fail(decision);
    record.acceptedAt = decision.at.toISOString();
    acceptedAt = performance.now();

    for (const method of handOffSteps(input.caller, options.strategy)) {
      if (isAborted(callerGone))
        return fail({ status: 'caller_hung_up', detail: 'the caller hung up before the hand-off' });
      if (!consult.humanPresent)
        return fail({ status: 'human_hung_up', detail: 'the human hung up before the hand-off' });
      if (method === 'refer') {
        const outcome = await step(
          () => ports.refer(referTarget(human.referTo ?? human.number), options.referTimeoutMs),
          options.referTimeoutMs + limits.margin,
          'refer',
        );
        record.handOffAttempts.push({
          method: 'refer',
          status: outcome.status,
          ...('sipStatus' in outcome && outcome.sipStatus !== undefined
            ? { sipStatus: outcome.sipStatus }
            : {}),
        });
        if (outcome.status === 'completed') return referred();
        // livekit-sip can time a REFER out although the caller's side accepted it and is
        // leaving: a caller whose leg ends now was transferred, and must not be bridged (the
        // human would be rung twice).
        if (
          outcome.status === 'timed_out' &&
          (await leavesWithin(callerGone, REFER_RACE_GRACE_MS))
        ) {
          record.detail = 'the REFER timed out, then the caller left: taken as transferred';
          return referred();
        }
        continue;
      }
      // join: MoveParticipant where the server has it, else the bridge.
      await quietly(consult.stopAgent(), limits.cleanUp, 'stop the consult agent');
      const moved = await step(() => ports.moveHuman(), limits.move, 'move');
      if (moved === 'moved') {
        record.handOffAttempts.push({ method: 'move', status: 'completed' });
        handedOff('move');
        await quietly(hold.release(false), limits.release, 'release');
        await quietly(consult.leave(), limits.cleanUp, 'leave the consult room');
        return connected('move', {
          method: 'move',
          consultRoomName: consult.roomName,
          humanRoom: undefined,
          bridge: undefined,
        });
      }
      if (moved === 'failed') record.handOffAttempts.push({ method: 'move', status: 'failed' });
      await step(() => hold.release(false), limits.release, 'release');
      const joined = await step(() => ports.bridge(), limits.bridge, 'bridge');
      if (joined !== undefined) {
        record.handOffAttempts.push({ method: 'bridge', status: 'completed' });
        handedOff('bridge');
        return connected('bridge', joined);
      }
      record.handOffAttempts.push({ method: 'bridge', status: 'failed' });
      // Back on hold while the next hand-off is tried.
      await step(() => hold.start(), limits.hold, 'hold');
    }
    if (isAborted(callerGone))
      return fail({ status: 'caller_hung_up', detail: 'the caller hung up during the hand-off' });
    return fail(noHandOffWorked(record.handOffAttempts));
  };

  const guarded = run().catch((err: unknown) =>
    fail(
      err instanceof TransferStepTimeout
        ? { status: 'timed_out', detail: err.message }
        : { status: 'failed', detail: `the transfer stopped on an error (${errorKind(err)})` },
    ),
  );
  // The whole transfer's limit: whatever step it is in, the caller comes back to the agent.
  const deadlineMs = transferDeadlineMs(options);
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<WarmTransferResult>((resolve) => {
    deadlineTimer = setTimeout(
      () =>
        resolve(
          finished
            ? guarded
            : fail({
                status: 'timed_out',
                detail: `the transfer did not finish within ${deadlineMs} ms`,
              }),
        ),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([guarded, deadline]);
  } finally {
    clearTimeout(deadlineTimer);
  }
}

/** How long a caller's leg may take to end after a timed-out REFER for it to count as taken. Unit: ms. */
export const REFER_RACE_GRACE_MS = 2_500;

/** Thrown by a step started after the transfer's result was decided. */
class TransferAbandoned extends Error {
  override readonly name = 'TransferAbandoned';
}

/** Whether `signal` aborts within `ms` (already aborted counts). */
function leavesWithin(signal: AbortSignal, ms: number): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (left: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(left);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Why a transfer whose human said yes still failed: the last hand-off tried decides. */
export function noHandOffWorked(attempts: TransferRecord['handOffAttempts']): TransferFailure {
  const last = attempts.at(-1);
  const detail = 'no hand-off to the human worked';
  if (last?.method !== 'refer') return { status: 'failed', detail };
  const sipStatus = last.sipStatus === undefined ? {} : { sipStatus: last.sipStatus };
  switch (last.status) {
    case 'refused':
    case 'timed_out':
      return { status: last.status, ...sipStatus, detail };
    default:
      return { status: 'failed', ...sipStatus, detail };
  }
}

/** An error's class and code, never its message (which may carry a phone number). */
function errorKind(err: unknown): string {
  const name = err instanceof Error ? err.name : typeof err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' || typeof code === 'number' ? `${name} ${code}` : name;
}

/** Read through a call, so the compiler does not narrow a flag that changes while awaiting. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
