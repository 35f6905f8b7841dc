import { voice, type JobContext, type log } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import { CallTracker, type CallOutcome } from '../call-records/index.js';
import type { OutboundRecord } from '../call-records/schema.js';
import type { PhoneCaller } from '../caller/index.js';
import { BeepListener, detectAnsweringMachine } from '../outbound/answering-machine.js';
import {
  CALLEE_IDENTITY,
  dialCallee,
  liveKitCalleePorts,
  type CalleePorts,
} from '../outbound/callee.js';
import type { OutboundOptions } from '../outbound/options.js';
import type { OutboundOutcome, OutboundResult } from '../outbound/outcome.js';
import type { LiveKitAccess } from '../transfer/livekit-ports.js';
import type { CallRuntime } from './run-call.js';

type Log = ReturnType<typeof log>;

/** A placed call the callee answered: what the rest of the call needs of the dial. */
export interface PlacedCallState {
  identity: string;
  options: OutboundOptions;
  ports: CalleePorts;
  room: string;
  record: OutboundRecord;
  /** From the answer on, when the agent may leave a message on a machine. */
  beeps?: BeepListener;
  answeredAt: number;
}

/**
 * How long the room stays after the outcome is reported and before a hang-up deletes it: the
 * dialer reads the room every 250 ms (livekit-dialer.ts). Unit: ms.
 */
const OUTCOME_VISIBLE_MS = 1_000;

/** A dial that came to nothing, as the record's outcome. */
const RECORD_OUTCOME: Record<Exclude<OutboundResult, 'answered'>, CallOutcome> = {
  voicemail: 'voicemail',
  no_answer: 'no_answer',
  busy: 'busy',
  declined: 'declined',
  failed: 'failed',
};

/** The callee as far as the call options know them, for the record of a call nobody answered. */
function plannedCallee(o: OutboundOptions): PhoneCaller {
  return {
    channel: 'phone',
    direction: 'outbound',
    identity: CALLEE_IDENTITY,
    displayName: CALLEE_IDENTITY,
    calledNumber: o.to,
    ...(o.from === undefined ? {} : { callerNumber: o.from }),
    callStatus: 'hangup',
    sipHeaders: {},
    capabilities: { dtmf: true, referTransfer: false },
  };
}

function outboundRecord(o: OutboundOptions, dial: OutboundOutcome): OutboundRecord {
  return {
    to: o.to,
    trunk: o.trunk ?? o.trunkId ?? '',
    ...(o.from === undefined ? {} : { from: o.from }),
    result: dial.result,
    ...(dial.sipStatus === undefined ? {} : { sipStatus: dial.sipStatus }),
    ...(dial.ringingMs === undefined ? {} : { ringingMs: dial.ringingMs }),
  };
}

/**
 * Dials the callee. Answered: the state the call goes on with. Not answered: the record is
 * written, the outcome reported to whoever placed the call, the job ended; undefined.
 */
export async function placedCallOutcome(
  ctx: JobContext,
  livekit: LiveKitAccess,
  options: OutboundOptions,
  rt: Pick<CallRuntime, 'records' | 'agentName'>,
  log: Log,
): Promise<PlacedCallState | undefined> {
  const ports = liveKitCalleePorts(livekit);
  const room = ctx.room.name ?? '';
  log.info({ ringingTimeoutMs: options.ringingTimeoutMs }, 'dialling the callee');
  const dial = await dialCallee(ports, room, options);
  const record = outboundRecord(options, dial);
  if (dial.result === 'answered') {
    const listening = new AbortController();
    ctx.addShutdownCallback(() => {
      listening.abort();
      return Promise.resolve();
    });
    const beeps =
      options.answeringMachine.enabled && options.answeringMachine.onMachine === 'leave_message'
        ? new BeepListener(ctx.room, listening.signal)
        : undefined;
    beeps?.start();
    log.info({ ringingMs: dial.ringingMs }, 'the callee answered');
    return {
      identity: CALLEE_IDENTITY,
      options,
      ports,
      room,
      record,
      ...(beeps === undefined ? {} : { beeps }),
      answeredAt: performance.now(),
    };
  }
  log.info(
    { result: dial.result, sipStatus: dial.sipStatus, ringingMs: dial.ringingMs },
    'the placed call was not answered',
  );
  const tracker = new CallTracker({
    callId: ctx.job.id,
    room,
    agentName: rt.agentName,
    caller: plannedCallee(options),
  });
  tracker.outbound(record);
  tracker.ended(RECORD_OUTCOME[dial.result], dial.detail);
  await Promise.all([
    rt.records
      .write(tracker.toRecord())
      .catch((err: unknown) => log.error({ err }, 'could not write the call record')),
    ports
      .report(room, dial)
      .catch((err: unknown) => log.warn({ err }, 'could not report the outcome in the room')),
  ]);
  // The room is left to whoever placed the call (it reads the outcome, then deletes it).
  ctx.shutdown(`the placed call was not answered (${dial.result})`);
  return undefined;
}

/** Invalid outbound options in a dispatch: `failed`, reported where the dialer reads it. */
export async function reportInvalidOutbound(
  ctx: JobContext,
  livekit: LiveKitAccess,
  problem: string,
  log: Log,
): Promise<void> {
  await liveKitCalleePorts(livekit)
    .report(ctx.room.name ?? '', { result: 'failed', detail: problem })
    .catch((err: unknown) => log.warn({ err }, 'could not report the outcome in the room'));
}

export interface PlacedCallInput {
  placed: PlacedCallState;
  session: voice.AgentSession;
  room: Room;
  tracker: CallTracker;
  /** The agent's greeting, for a callee who says nothing. */
  greet: () => void;
  endCall: (reason: string) => Promise<void>;
  callEnded: AbortSignal;
  log: Log;
}

/**
 * The first seconds of an answered call: a person is left to speak first (the agent answers
 * them, or greets after `waitForCalleeMs` of silence); a machine gets the message after its beep,
 * or a hang-up. The outcome goes to the record and to whoever placed the call.
 */
export async function runPlacedCall(input: PlacedCallInput): Promise<void> {
  const { placed, session, tracker, log } = input;
  const o = placed.options;
  let calleeSpoke = false;
  const onState = (ev: voice.UserStateChangedEvent) => {
    if (ev.newState === 'speaking') calleeSpoke = true;
  };
  session.on(voice.AgentSessionEventTypes.UserStateChanged, onState);
  const greetTimer = setTimeout(() => {
    if (!calleeSpoke && !tracker.hasEnded) input.greet();
  }, o.waitForCalleeMs);
  try {
    const decision = o.answeringMachine.enabled
      ? await detectAnsweringMachine(session, o.answeringMachine, placed.answeredAt)
      : undefined;
    if (input.callEnded.aborted) return;
    const result: OutboundResult = decision?.isMachine === true ? 'voicemail' : 'answered';
    tracker.outbound({ result, ...(decision === undefined ? {} : { answeringMachine: decision }) });
    log.info(
      decision === undefined
        ? { result }
        : {
            result,
            category: decision.category,
            reason: decision.reason,
            decidedAfterAnswerMs: decision.decidedAfterAnswerMs,
          },
      'answering-machine detection decided',
    );
    await placed.ports
      .report(placed.room, {
        result,
        detail: result === 'voicemail' ? 'a machine answered' : 'answered',
        ...(placed.record.ringingMs === undefined ? {} : { ringingMs: placed.record.ringingMs }),
      })
      .catch((err: unknown) => log.warn({ err }, 'could not report the outcome in the room'));
    if (result !== 'voicemail') return;
    clearTimeout(greetTimer);
    // The rest of the greeting is not a conversation: no more turns, nothing queued.
    session.input.setAudioEnabled(false);
    session.interrupt();
    const message = o.answeringMachine.message;
    if (
      o.answeringMachine.onMachine === 'hang_up' ||
      message === undefined ||
      placed.beeps === undefined
    ) {
      tracker.ended('voicemail', 'an answering machine answered; the agent hung up');
      // Whoever placed the call reads the outcome from the room, which the hang-up deletes.
      await new Promise((resolve) => setTimeout(resolve, OUTCOME_VISIBLE_MS));
      await input.endCall('answering machine');
      return;
    }
    const beep = await placed.beeps.waitForBeepEnd(o.answeringMachine.beepTimeoutMs);
    if (beep === 'cancelled') return;
    tracker.outbound({ message: { afterBeep: beep === 'beep', at: new Date().toISOString() } });
    tracker.ended('voicemail', 'an answering machine answered; the agent left the message');
    // Anything queued meanwhile (a reply to a transcript that came late) goes before the message.
    session.interrupt();
    await session.say(message, { allowInterruptions: false }).waitForPlayout();
    await input.endCall('message left');
  } finally {
    clearTimeout(greetTimer);
    session.off(voice.AgentSessionEventTypes.UserStateChanged, onState);
  }
}
