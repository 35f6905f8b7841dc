import type { CallRecord } from '../call-records/index.js';
import type { Caller } from '../caller/index.js';
import { briefingText } from './briefing.js';
import { CALLER_LEFT_NOTICE } from './explanations.js';
import type { TransferOptions } from './options.js';
import type { HandOffMethod, TransferFailure, TransferOutcome } from './outcome.js';
import type { JoinedCall, WarmTransferPorts } from './ports.js';
import type { TransferRecord } from './record.js';
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
  // A caller who hangs up while the human's line rings: ending the consult leg cancels the INVITE.
  const cancelDial = () => void consult.end().catch(() => undefined);

  const fail = async (failure: TransferFailure): Promise<WarmTransferResult> => {
    callerGone.removeEventListener('abort', cancelDial);
    if (failure.status === 'caller_hung_up' && consult.humanPresent) {
      await consult.tell(CALLER_LEFT_NOTICE).catch(() => undefined);
    }
    await consult.stopAgent().catch(() => undefined);
    await consult.end().catch(() => undefined);
    await hold.release(!callerGone.aborted).catch(() => undefined);
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

  const run = async (): Promise<WarmTransferResult> => {
    await hold.start();
    callerGone.addEventListener('abort', cancelDial, { once: true });
    if (isAborted(callerGone))
      return fail({
        status: 'caller_hung_up',
        detail: 'the caller hung up before the human was dialled',
      });
    const dialStart = performance.now();
    const dialFailed = await consult.dial(human, options.ringingTimeoutMs, callerGone);
    record.phases.ringMs = since(dialStart);
    if (dialFailed !== undefined) return fail(dialFailed);
    callerGone.removeEventListener('abort', cancelDial);
    if (isAborted(callerGone))
      return fail({
        status: 'caller_hung_up',
        detail: 'the caller hung up while the human was dialled',
      });

    const consultStart = performance.now();
    const decision = await consult.brief(
      briefingText({ reason: input.reason, channel: input.caller.channel, turns: input.turns }),
      options.consultTimeoutMs,
      callerGone,
    );
    record.phases.consultMs = since(consultStart);
    if (decision.status !== 'accepted') return fail(decision);
    record.acceptedAt = decision.at.toISOString();
    acceptedAt = performance.now();

    for (const step of handOffSteps(input.caller, options.strategy)) {
      if (isAborted(callerGone))
        return fail({ status: 'caller_hung_up', detail: 'the caller hung up before the hand-off' });
      if (!consult.humanPresent)
        return fail({ status: 'human_hung_up', detail: 'the human hung up before the hand-off' });
      if (step === 'refer') {
        const outcome = await ports.refer(
          referTarget(human.referTo ?? human.number),
          options.referTimeoutMs,
        );
        record.handOffAttempts.push({
          method: 'refer',
          status: outcome.status,
          ...('sipStatus' in outcome && outcome.sipStatus !== undefined
            ? { sipStatus: outcome.sipStatus }
            : {}),
        });
        if (outcome.status !== 'completed') continue;
        // livekit-sip hangs up the caller 1 s after NOTIFY 200: the call is transferred from now,
        // and nothing after this point may turn it into a failure.
        handedOff('refer');
        // The caller now talks to the human's own line; the consult leg and the hold end here.
        await consult.stopAgent().catch(() => undefined);
        await consult.end().catch(() => undefined);
        await hold.release(false).catch(() => undefined);
        return connected('refer');
      }
      // join: MoveParticipant where the server has it, else the bridge.
      await consult.stopAgent().catch(() => undefined);
      const moved = await ports.moveHuman();
      if (moved === 'moved') {
        record.handOffAttempts.push({ method: 'move', status: 'completed' });
        handedOff('move');
        await hold.release(false).catch(() => undefined);
        await consult.leave().catch(() => undefined);
        return connected('move', {
          method: 'move',
          consultRoomName: consult.roomName,
          humanRoom: undefined,
          bridge: undefined,
        });
      }
      if (moved === 'failed') record.handOffAttempts.push({ method: 'move', status: 'failed' });
      await hold.release(false);
      const joined = await ports.bridge();
      if (joined !== undefined) {
        record.handOffAttempts.push({ method: 'bridge', status: 'completed' });
        handedOff('bridge');
        return connected('bridge', joined);
      }
      record.handOffAttempts.push({ method: 'bridge', status: 'failed' });
      // Back on hold while the next hand-off is tried.
      await hold.start();
    }
    if (isAborted(callerGone))
      return fail({ status: 'caller_hung_up', detail: 'the caller hung up during the hand-off' });
    return fail(noHandOffWorked(record.handOffAttempts));
  };

  try {
    return await run();
  } catch (err) {
    return fail({
      status: 'failed',
      detail: `the transfer stopped on an error (${errorKind(err)})`,
    });
  }
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
