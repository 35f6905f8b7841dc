import type { VAD, voice } from '@livekit/agents';
import type { AudioFrame, Room } from '@livekit/rtc-node';
import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import type { CallRecord } from '../call-records/index.js';
import type { Caller } from '../caller/index.js';
import type { SpeechModels } from '../models/index.js';
import { AudioBridge } from './audio-bridge.js';
import { briefingText } from './briefing.js';
import { referCaller } from './cold-transfer.js';
import { ConsultCall, HUMAN_IDENTITY } from './consult.js';
import { CALLER_LEFT_NOTICE } from './explanations.js';
import { CallerHold } from './hold.js';
import type { TransferOptions } from './options.js';
import type { HandOffMethod, TransferFailure, TransferOutcome } from './outcome.js';
import type { TransferRecord } from './record.js';
import { handOffSteps } from './strategy.js';
import { referTarget } from './target.js';

export interface LiveKitAccess {
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface WarmTransferInput {
  livekit: LiveKitAccess;
  models: SpeechModels;
  vad: VAD | null;
  session: voice.AgentSession;
  callerRoom: Room;
  caller: Caller;
  turns: CallRecord['turns'];
  options: TransferOptions;
  human: NonNullable<TransferOptions['human']>;
  reason: string;
  /** Aborted when the caller hangs up or the job shuts down. */
  callerGone: AbortSignal;
  holdMusic: Promise<readonly AudioFrame[]>;
  /** Called the moment the caller is handed over, before the remaining clean-up. */
  onHandedOff?: (method: HandOffMethod) => void;
}

/** After a completed hand-off in LiveKit: what still runs until one side hangs up. */
export interface JoinedCall {
  method: 'move' | 'bridge';
  consultRoomName: string;
  /** The human's participant identity in the caller's room (move) or in the consult room (bridge). */
  humanRoom: Room | undefined;
  bridge: AudioBridge | undefined;
}

export interface WarmTransferResult {
  outcome: TransferOutcome;
  record: TransferRecord;
  joined?: JoinedCall;
}

/**
 * Servers known not to implement MoveParticipant (open-source livekit-server answers "not
 * implemented"): asked once per process, then the bridge is used straight away.
 */
const moveUnsupported = new Set<string>();

/**
 * A warm transfer: hold the caller, dial and brief the human in a private consult room, and on
 * their yes hand the caller over (REFER, MoveParticipant or a bridge, per the strategy, falling
 * back in order). Every failure returns the caller to the agent, off hold.
 */
export async function warmTransfer(input: WarmTransferInput): Promise<WarmTransferResult> {
  const { options, human, callerGone } = input;
  const callerRoomName = input.callerRoom.name ?? '';
  const consultRoomName = `${callerRoomName}-consult`;
  const rooms = new RoomServiceClient(
    input.livekit.url,
    input.livekit.apiKey,
    input.livekit.apiSecret,
  );
  const dialClient = new SipClient(
    input.livekit.url,
    input.livekit.apiKey,
    input.livekit.apiSecret,
  );
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
  const hold = new CallerHold(input.session, input.callerRoom, input.holdMusic);
  await hold.start();
  const consult = new ConsultCall(consultRoomName, {
    livekit: input.livekit,
    sip: dialClient,
    models: input.models,
    vad: input.vad,
  });
  // A caller who hangs up while the human's line rings: removing the consult room cancels the
  // INVITE (livekit-sip had already joined it with the outbound call).
  const cancelDial = () => void rooms.deleteRoom(consultRoomName).catch(() => undefined);
  callerGone.addEventListener('abort', cancelDial, { once: true });

  const fail = async (failure: TransferFailure): Promise<WarmTransferResult> => {
    callerGone.removeEventListener('abort', cancelDial);
    if (failure.status === 'caller_hung_up' && consult.humanPresent) {
      await consult.tell(CALLER_LEFT_NOTICE).catch(() => undefined);
    }
    await consult.stopAgent().catch(() => undefined);
    await rooms.deleteRoom(consultRoomName).catch(() => undefined);
    await consult.room.disconnect().catch(() => undefined);
    await hold.release(!callerGone.aborted);
    record.phases.holdMs = since(holdStart);
    record.consult = consult.transcript;
    Object.assign(record, {
      status: failure.status,
      detail: failure.detail,
      ...(failure.sipStatus === undefined ? {} : { sipStatus: failure.sipStatus }),
    });
    return { outcome: failure, record };
  };

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
  if (callerGone.aborted)
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
  const acceptedAt = performance.now();

  for (const step of handOffSteps(input.caller, options.strategy)) {
    if (isAborted(callerGone))
      return fail({ status: 'caller_hung_up', detail: 'the caller hung up before the hand-off' });
    if (!consult.humanPresent)
      return fail({ status: 'human_hung_up', detail: 'the human hung up before the hand-off' });
    if (step === 'refer') {
      const target = referTarget(human.referTo ?? human.number);
      const outcome = await referCaller({
        sip: dialClient,
        room: callerRoomName,
        caller: input.caller,
        target,
        timeoutMs: options.referTimeoutMs,
      });
      record.handOffAttempts.push({
        method: 'refer',
        status: outcome.status,
        ...('sipStatus' in outcome && outcome.sipStatus !== undefined
          ? { sipStatus: outcome.sipStatus }
          : {}),
      });
      if (outcome.status !== 'completed') continue;
      // livekit-sip hangs up the caller 1 s after NOTIFY 200: the call is transferred from now.
      input.onHandedOff?.('refer');
      // The caller now talks to the human's own line; the consult leg and the hold end here.
      await consult.stopAgent().catch(() => undefined);
      await rooms.deleteRoom(consultRoomName).catch(() => undefined);
      await consult.room.disconnect().catch(() => undefined);
      await hold.release(false);
      return connected('refer', undefined);
    }
    // join: MoveParticipant where the server has it, else the bridge.
    await consult.stopAgent().catch(() => undefined);
    if (!moveUnsupported.has(input.livekit.url)) {
      try {
        await rooms.moveParticipant(consultRoomName, HUMAN_IDENTITY, callerRoomName);
        record.handOffAttempts.push({ method: 'move', status: 'completed' });
        await hold.release(false);
        await consult.room.disconnect().catch(() => undefined);
        return connected('move', {
          method: 'move',
          consultRoomName,
          humanRoom: undefined,
          bridge: undefined,
        });
      } catch (err) {
        if (
          /not implemented|unimplemented/i.test(
            `${(err as Error).message} ${String((err as { code?: string }).code)}`,
          )
        )
          moveUnsupported.add(input.livekit.url);
        else record.handOffAttempts.push({ method: 'move', status: 'failed' });
      }
    }
    const bridge = new AudioBridge();
    try {
      await hold.release(false);
      await Promise.all([
        bridge.relay(input.callerRoom, input.caller.identity, consult.room, 'caller-audio'),
        bridge.relay(consult.room, HUMAN_IDENTITY, input.callerRoom, 'human-audio'),
      ]);
      record.handOffAttempts.push({ method: 'bridge', status: 'completed' });
      return connected('bridge', {
        method: 'bridge',
        consultRoomName,
        humanRoom: consult.room,
        bridge,
      });
    } catch {
      await bridge.close();
      record.handOffAttempts.push({ method: 'bridge', status: 'failed' });
      await hold.start();
    }
  }
  const last = record.handOffAttempts.at(-1);
  return fail(
    last?.method === 'refer'
      ? {
          status: last.status === 'timed_out' ? 'timed_out' : 'refused',
          ...(last.sipStatus === undefined ? {} : { sipStatus: last.sipStatus }),
          detail: 'the REFER did not complete and no other hand-off was allowed',
        }
      : { status: 'failed', detail: 'no hand-off to the human worked' },
  );

  function connected(method: HandOffMethod, joined: JoinedCall | undefined): WarmTransferResult {
    record.consult = consult.transcript;
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
  }
}

/** Read through a call, so the compiler does not narrow a flag that changes while awaiting. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
