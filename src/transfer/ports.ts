import type { Room } from '@livekit/rtc-node';
import type { AudioBridge } from './audio-bridge.js';
import type { TransferOptions } from './options.js';
import type { TransferFailure, TransferOutcome } from './outcome.js';

/**
 * What a warm transfer does to the world, as interfaces: the orchestration in warm-transfer.ts
 * decides, these act. The LiveKit implementation is in livekit-ports.ts; an in-memory one for
 * tests is in ports.fake.ts.
 */
export interface WarmTransferPorts {
  hold: HoldPort;
  consult: ConsultPort;
  /** REFERs the SIP caller to `target` (livekit-sip sends REFER in the caller's dialog). */
  refer(target: string, timeoutMs: number): Promise<TransferOutcome>;
  /**
   * Moves the human from the consult room into the caller's room (MoveParticipant).
   * `unsupported`: the server does not implement it (open-source livekit-server).
   */
  moveHuman(): Promise<'moved' | 'unsupported' | 'failed'>;
  /**
   * Relays each party's audio into the other's room. `undefined` when it could not be set up;
   * whatever it had set up is undone by then.
   */
  bridge(): Promise<JoinedCall | undefined>;
}

/** The caller on hold: their speech no longer reaches the agent, and they hear hold music. */
export interface HoldPort {
  start(): Promise<void>;
  /** Ends the music; `resumeSession` gives the caller their agent back (false on hand-off). */
  release(resumeSession: boolean): Promise<void>;
}

export type ConsultDecision =
  { status: 'accepted'; by: 'voice' | 'keypad'; at: Date } | TransferFailure;

/** The consult leg: the human dialled into a private room and briefed there. */
export interface ConsultPort {
  readonly roomName: string;
  /** What was said on the consult leg, in order, for the call record. */
  readonly transcript: readonly { role: 'agent' | 'human'; text: string }[];
  readonly humanPresent: boolean;
  /** Dials the human; resolves when they answer (undefined) or why they did not. */
  dial(
    human: NonNullable<TransferOptions['human']>,
    ringingTimeoutMs: number,
    signal: AbortSignal,
  ): Promise<TransferFailure | undefined>;
  /** Speaks the briefing and resolves with the human's decision (or why there is none). */
  brief(briefing: string, consultTimeoutMs: number, signal: AbortSignal): Promise<ConsultDecision>;
  /** Says something to the human and waits until it was heard. */
  tell(text: string): Promise<void>;
  /** Stops the consult agent; the human's leg stays up for the hand-off. */
  stopAgent(): Promise<void>;
  /** Ends the consult leg: the human is hung up (a ringing dial is cancelled), this process leaves. */
  end(): Promise<void>;
  /** Leaves the consult room without hanging up the human (after they were moved away). */
  leave(): Promise<void>;
}

/** After a completed hand-off in LiveKit: what still runs until one side hangs up. */
export interface JoinedCall {
  method: 'move' | 'bridge';
  consultRoomName: string;
  /** The room in which the human is watched for hanging up: the consult room when bridged. */
  humanRoom: Room | undefined;
  bridge: AudioBridge | undefined;
}
