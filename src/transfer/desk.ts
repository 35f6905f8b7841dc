import { llm, type VAD, type voice } from '@livekit/agents';
import { RoomEvent, type AudioFrame, type RemoteParticipant, type Room } from '@livekit/rtc-node';
import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import { z } from 'zod';
import type { CallTracker } from '../call-records/index.js';
import type { Caller } from '../caller/index.js';
import type { SpeechModels } from '../models/index.js';
import { referCaller } from './cold-transfer.js';
import { HUMAN_IDENTITY } from './consult.js';
import {
  COLD_TRANSFER_ANNOUNCEMENT,
  HOLD_ANNOUNCEMENT,
  TRANSFER_EXPLANATIONS,
} from './explanations.js';
import { decodeHoldMusic } from './hold.js';
import { liveKitTransferPorts, type LiveKitAccess } from './livekit-ports.js';
import type { TransferOptions } from './options.js';
import type { TransferOutcome } from './outcome.js';
import type { JoinedCall } from './ports.js';
import { referTarget } from './target.js';
import { warmTransfer } from './warm-transfer.js';

export interface TransferDeskInput {
  livekit: LiveKitAccess;
  /** New model instances for each consult leg, apart from the caller's session's. */
  consultModels: () => SpeechModels;
  vad: VAD | null;
  session: voice.AgentSession;
  room: Room;
  caller: () => Caller;
  tracker: CallTracker;
  options: TransferOptions;
  /** Aborted when the caller hangs up or the job shuts down. */
  callerGone: AbortSignal;
  /** Ends the job (and with it the call) once a joined call is over. */
  endJob: (reason: string) => void;
  /** The call's logger (context bound once per call); transfers log outcomes, never numbers. */
  log: { info: (context: object, message: string) => void };
}

/**
 * The agent's transfer tools for one call, and what keeps running after a hand-off. Only the
 * transfers this line is configured for are offered to the model.
 */
export class TransferDesk {
  private inProgress = false;
  /**
   * Transfer tool calls under way: shutdown waits for them before the call record is written. A
   * set, because the model may call the tools in parallel (the second is refused at once).
   */
  private readonly running = new Set<Promise<unknown>>();
  private readonly background: Promise<unknown>[] = [];
  /** Decoded while the call goes on, so putting the caller on hold costs no decoding. */
  private readonly holdMusic: Promise<readonly AudioFrame[]>;

  constructor(private readonly input: TransferDeskInput) {
    this.holdMusic =
      input.options.human === undefined ? Promise.resolve([]) : decodeHoldMusic().catch(() => []);
  }

  /** A transfer is under way: the caller is on hold, so silence is expected. */
  get busy(): boolean {
    return this.inProgress;
  }

  tools(): llm.ToolContextEntry[] {
    const tools: llm.ToolContextEntry[] = [];
    if (this.input.options.human !== undefined) {
      tools.push(
        llm.tool({
          name: 'transfer_to_human',
          description:
            'Transfer the caller to a human colleague: the caller is put on hold while you brief the colleague, who then takes the call. Use it when the caller asks for a person or you cannot help.',
          parameters: z.object({
            reason: z
              .string()
              .max(300)
              .describe('What the caller needs, in a few words, for the colleague.'),
          }),
          execute: async ({ reason }) => this.track(this.warm(reason)),
        }),
      );
    }
    if (this.input.options.coldTarget !== undefined) {
      tools.push(
        llm.tool({
          name: 'transfer_call',
          description:
            'Transfer the phone call directly to the front desk without talking to them first (blind transfer).',
          parameters: z.object({}),
          execute: async () => this.track(this.cold()),
        }),
      );
    }
    return tools;
  }

  /** Cold transfer: announce, then REFER the caller to the configured target. */
  async cold(): Promise<TransferToolResult> {
    const { options, tracker, session } = this.input;
    const caller = this.input.caller();
    const target = referTarget(options.coldTarget ?? '');
    if (this.inProgress) return { status: 'failed', detail: 'a transfer is already in progress' };
    if (!caller.capabilities.referTransfer)
      return this.explain(
        await referCaller({
          sip: this.sip(),
          room: this.roomName,
          caller,
          target,
          timeoutMs: options.referTimeoutMs,
        }),
      );
    this.inProgress = true;
    try {
      await session.say(COLD_TRANSFER_ANNOUNCEMENT, { allowInterruptions: false }).waitForPlayout();
      const startedAt = new Date();
      const outcome = await referCaller({
        sip: this.sip(),
        room: this.roomName,
        caller,
        target,
        timeoutMs: options.referTimeoutMs,
      });
      tracker.transferAttempted({
        kind: 'cold',
        destination: target,
        status: outcome.status,
        ...(outcome.status === 'completed'
          ? { method: 'refer' as const, connectedAt: new Date().toISOString() }
          : {}),
        ...('sipStatus' in outcome && outcome.sipStatus !== undefined
          ? { sipStatus: outcome.sipStatus }
          : {}),
        ...('detail' in outcome ? { detail: outcome.detail } : {}),
        handOffAttempts: [
          {
            method: 'refer',
            status: outcome.status,
            ...('sipStatus' in outcome && outcome.sipStatus !== undefined
              ? { sipStatus: outcome.sipStatus }
              : {}),
          },
        ],
        consult: [],
        startedAt: startedAt.toISOString(),
        phases: { handOffMs: Date.now() - startedAt.getTime() },
      });
      this.input.log.info(
        {
          kind: 'cold',
          status: outcome.status,
          sipStatus: 'sipStatus' in outcome ? outcome.sipStatus : undefined,
        },
        'transfer ended',
      );
      if (outcome.status === 'completed') {
        tracker.ended('transferred', 'the caller was transferred by REFER');
        return { status: 'completed', method: 'refer' };
      }
      return await this.explain(outcome);
    } finally {
      this.inProgress = false;
    }
  }

  /** Warm transfer: hold, dial and brief the human, hand over on their yes. */
  async warm(reason: string): Promise<TransferToolResult> {
    const { options, tracker, session } = this.input;
    const human = options.human;
    if (human === undefined)
      return this.explain({
        status: 'not_configured',
        detail: 'no human is configured for this line',
      });
    if (this.inProgress) return { status: 'failed', detail: 'a transfer is already in progress' };
    this.inProgress = true;
    try {
      await session.say(HOLD_ANNOUNCEMENT, { allowInterruptions: false }).waitForPlayout();
      const caller = this.input.caller();
      const result = await warmTransfer(
        {
          caller,
          turns: tracker.toRecord().turns,
          options,
          human,
          reason,
          callerGone: this.input.callerGone,
          onHandedOff: (method) =>
            tracker.ended('transferred', `the caller was handed to a human (${method})`),
        },
        liveKitTransferPorts({
          livekit: this.input.livekit,
          consultModels: this.input.consultModels(),
          vad: this.input.vad,
          session,
          callerRoom: this.input.room,
          caller,
          holdMusic: this.holdMusic,
        }),
      );
      tracker.transferAttempted(result.record);
      this.input.log.info(
        {
          kind: 'warm',
          status: result.record.status,
          // Fixed texts, SIP statuses and trunk names only: the destination stays in the record.
          detail: result.record.detail,
          method: result.record.method,
          sipStatus: result.record.sipStatus,
          phases: result.record.phases,
        },
        'transfer ended',
      );
      // Completed: the record already says transferred (onHandedOff, at the hand-off itself).
      if (result.outcome.status !== 'completed') return await this.explain(result.outcome);
      // The AI leaves the conversation; a joined call is watched until one side hangs up.
      this.background.push(session.close());
      if (result.joined !== undefined) this.watch(result.joined);
      return { status: 'completed', method: result.outcome.method };
    } finally {
      this.inProgress = false;
    }
  }

  /** Waits for the tasks this desk started (for the job's shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.background);
  }

  /**
   * Resolves once no transfer is under way, or after `limitMs`: a job shutting down mid-transfer
   * (the caller hung up, the time limit) records the transfer's outcome before the call record is
   * written.
   */
  async idle(limitMs: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.running),
      new Promise((resolve) => (timer = setTimeout(resolve, limitMs))),
    ]);
    clearTimeout(timer);
  }

  private track<T>(transfer: Promise<T>): Promise<T> {
    this.running.add(transfer);
    const forget = () => this.running.delete(transfer);
    transfer.then(forget, forget);
    return transfer;
  }

  private watch(joined: JoinedCall): void {
    const rooms = new RoomServiceClient(
      this.input.livekit.url,
      this.input.livekit.apiKey,
      this.input.livekit.apiSecret,
    );
    const callerIdentity = this.input.caller().identity;
    let over = false;
    const end = (why: string) => {
      if (over) return;
      over = true;
      this.background.push(
        (async () => {
          await joined.bridge?.close();
          await Promise.allSettled([
            rooms.deleteRoom(joined.consultRoomName),
            rooms.deleteRoom(this.roomName),
          ]);
          await joined.humanRoom?.disconnect();
          this.input.endJob(why);
        })(),
      );
    };
    this.input.room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      if (p.identity === callerIdentity) end('the caller hung up after the transfer');
      if (p.identity === HUMAN_IDENTITY) end('the human hung up after the transfer');
    });
    joined.humanRoom?.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      if (p.identity === HUMAN_IDENTITY) end('the human hung up after the transfer');
    });
    if (this.input.callerGone.aborted) end('the caller hung up during the hand-off');
  }

  /** Tells the caller why the transfer did not happen and what next; returns that to the model. */
  private async explain(outcome: TransferOutcome): Promise<TransferToolResult> {
    if (outcome.status === 'completed') return { status: 'completed', method: outcome.method };
    const text = TRANSFER_EXPLANATIONS[outcome.status];
    if (text !== '' && !this.input.callerGone.aborted)
      await this.input.session.say(text).waitForPlayout();
    return {
      status: outcome.status,
      detail: outcome.detail,
      ...(outcome.sipStatus === undefined ? {} : { sipStatus: outcome.sipStatus }),
      callerWasTold: text,
    };
  }

  private get roomName(): string {
    return this.input.room.name ?? '';
  }

  private sip(): SipClient {
    const { url, apiKey, apiSecret } = this.input.livekit;
    return new SipClient(url, apiKey, apiSecret);
  }
}

export type TransferToolResult =
  | { status: 'completed'; method: string }
  | { status: string; detail: string; sipStatus?: number; callerWasTold?: string };
