import { llm, voice, type VAD } from '@livekit/agents';
import { Room, RoomEvent, type RemoteParticipant } from '@livekit/rtc-node';
import { AccessToken, type RoomServiceClient, type SipClient } from 'livekit-server-sdk';
import { z } from 'zod';
import type { SpeechModels } from '../models/index.js';
import { ACCEPT_KEY, DECLINE_KEY, QUOTED_SPEECH_RULE } from './briefing.js';
import type { TransferOptions } from './options.js';
import { pickOutboundTrunk } from './outbound-trunk.js';
import { dialFailure, type TransferFailure } from './outcome.js';
import type { ConsultDecision, ConsultPort } from './ports.js';
import { toSipSeconds } from './sip-units.js';

/**
 * The consult leg of a warm transfer: a private room where the agent dials the human, briefs
 * them and waits for their answer. The caller is never in this room.
 */
export const HUMAN_IDENTITY = 'transfer-human';
const CONSULT_AGENT_IDENTITY = 'switchboard-consult';

export const CONSULT_INSTRUCTIONS = `You are briefing a colleague about a caller who is on hold.
You have already read them the briefing. Answer their questions about the call briefly, using
only what the briefing says. When they agree to take the call, call accept_transfer. When they
say they cannot take it, call decline_transfer. If you hear a voicemail greeting or an answering
machine, call voicemail_detected.
${QUOTED_SPEECH_RULE}`;

export interface ConsultDeps {
  livekit: { url: string; apiKey: string; apiSecret: string };
  sip: SipClient;
  rooms: RoomServiceClient;
  /** The consult leg's own model instances: its errors and usage stay apart from the caller's. */
  models: SpeechModels;
  vad: VAD | null;
}

export class ConsultCall implements ConsultPort {
  readonly room = new Room();
  private session?: voice.AgentSession;
  private modelsClosed = false;
  private readonly decided: Promise<ConsultDecision>;
  private decide!: (d: ConsultDecision) => void;

  /** What was said on the consult leg, in order, for the call record. */
  readonly transcript: { role: 'agent' | 'human'; text: string }[] = [];

  constructor(
    readonly roomName: string,
    private readonly deps: ConsultDeps,
  ) {
    this.decided = new Promise((resolve) => (this.decide = resolve));
  }

  /** Joins the consult room, then dials the human and waits until they answer or the dial fails. */
  async dial(
    human: NonNullable<TransferOptions['human']>,
    ringingTimeoutMs: number,
    signal: AbortSignal,
  ): Promise<TransferFailure | undefined> {
    // Read through a call: the flag changes while this awaits.
    const gone = () => signal.aborted;
    // Before joining anything: a trunk that is not there is a configuration problem.
    const trunk = pickOutboundTrunk(
      human,
      human.outboundTrunkId === undefined ? await this.deps.sip.listSipOutboundTrunk() : [],
    );
    if (!('trunkId' in trunk)) return trunk;
    // The caller's hang-up cancels a dial by deleting the consult room; before the room exists
    // that would be lost, so it is checked before each step that creates it.
    if (gone()) return callerLeftWhileDialling();
    const token = new AccessToken(this.deps.livekit.apiKey, this.deps.livekit.apiSecret, {
      identity: CONSULT_AGENT_IDENTITY,
    });
    // An agent participant: it counts as no caller, and the dispatcher never sends a worker here.
    token.kind = 'agent';
    token.addGrant({ roomJoin: true, room: this.roomName, canPublish: true, canSubscribe: true });
    await this.room.connect(this.deps.livekit.url, await token.toJwt(), {
      autoSubscribe: true,
      dynacast: false,
    });
    this.room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      if (p.identity === HUMAN_IDENTITY)
        this.decide({ status: 'human_hung_up', detail: 'the human hung up during the briefing' });
    });
    this.room.on(RoomEvent.DtmfReceived, (_code: number, digit: string, p: RemoteParticipant) => {
      if (p.identity !== HUMAN_IDENTITY) return;
      if (digit === ACCEPT_KEY) this.decide({ status: 'accepted', by: 'keypad', at: new Date() });
      if (digit === DECLINE_KEY)
        this.decide({ status: 'declined', detail: 'the human declined on the keypad' });
    });
    if (gone()) return callerLeftWhileDialling();
    try {
      await this.deps.sip.createSipParticipant(trunk.trunkId, human.number, this.roomName, {
        participantIdentity: HUMAN_IDENTITY,
        participantName: 'Colleague',
        waitUntilAnswered: true,
        ringingTimeout: toSipSeconds(ringingTimeoutMs),
        // The RPC must outlive the ringing, or the client gives up on a call still ringing.
        timeout: toSipSeconds(ringingTimeoutMs) + 15,
        ...(human.dtmf === undefined ? {} : { dtmf: human.dtmf }),
        ...(human.fromNumber === undefined ? {} : { fromNumber: human.fromNumber }),
      });
      return undefined;
    } catch (err) {
      if (gone()) return callerLeftWhileDialling();
      return dialFailure(err);
    }
  }

  /** Speaks the briefing to the human and resolves with their decision (or why there is none). */
  async brief(
    briefing: string,
    consultTimeoutMs: number,
    signal: AbortSignal,
  ): Promise<ConsultDecision> {
    const tools = {
      accept_transfer: llm.tool({
        description: 'The colleague agrees to take the call.',
        parameters: z.object({}),
        execute: () => {
          this.decide({ status: 'accepted', by: 'voice', at: new Date() });
          return Promise.resolve({ ok: true });
        },
      }),
      decline_transfer: llm.tool({
        description: 'The colleague cannot take the call.',
        parameters: z.object({}),
        execute: () => {
          this.decide({ status: 'declined', detail: 'the human declined' });
          return Promise.resolve({ ok: true });
        },
      }),
      voicemail_detected: llm.tool({
        description: 'A voicemail greeting or answering machine answered instead of a person.',
        parameters: z.object({}),
        execute: () => {
          this.decide({ status: 'voicemail', detail: 'a voicemail answered the consult call' });
          return Promise.resolve({ ok: true });
        },
      }),
    };
    const { stt, llm: model, tts } = this.deps.models;
    const session = new voice.AgentSession({
      vad: this.deps.vad,
      tts,
      ...(stt === undefined ? {} : { stt }),
      ...(model === undefined ? {} : { llm: model }),
    });
    this.session = session;
    // A model failure on the consult leg ends the consult, not the caller's call.
    session.on(voice.AgentSessionEventTypes.Error, (ev) => {
      const recoverable = (ev.error as { recoverable?: boolean }).recoverable === true;
      if (!recoverable)
        this.decide({ status: 'failed', detail: 'a model failed during the briefing' });
    });
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
      if (ev.item.type !== 'message') return;
      const text = ev.item.textContent ?? '';
      if (ev.item.role === 'assistant') this.transcript.push({ role: 'agent', text });
      if (ev.item.role === 'user') this.transcript.push({ role: 'human', text });
    });
    await session.start({
      agent: new voice.Agent({ instructions: CONSULT_INSTRUCTIONS, tools }),
      room: this.room,
      inputOptions: { participantIdentity: HUMAN_IDENTITY, closeOnDisconnect: false },
    });
    session.say(briefing);
    const timer = setTimeout(
      () =>
        this.decide({
          status: 'timed_out',
          detail: 'the human gave no answer to the briefing in time',
        }),
      consultTimeoutMs,
    );
    const onAbort = () =>
      this.decide({ status: 'caller_hung_up', detail: 'the caller hung up during the briefing' });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    try {
      return await this.decided;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Says something to the human (e.g. that the caller left) and waits until it was heard. */
  async tell(text: string): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    session.interrupt();
    await session.say(text, { allowInterruptions: false }).waitForPlayout();
  }

  /** Stops the consult agent; the human's leg stays up (for the hand-off) until `end`. */
  async stopAgent(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    try {
      if (session !== undefined) await session.close();
    } finally {
      // The models were made for this consult leg alone (their HTTP clients go with them).
      if (!this.modelsClosed) {
        this.modelsClosed = true;
        const { stt, llm: model, tts } = this.deps.models;
        await Promise.allSettled([tts.close(), stt?.close(), model?.aclose()]);
      }
    }
  }

  /** Deleting the room hangs up the human's leg, or cancels its INVITE while it still rings. */
  async end(): Promise<void> {
    await this.deps.rooms.deleteRoom(this.roomName).catch(() => undefined);
    await this.room.disconnect();
  }

  async leave(): Promise<void> {
    await this.room.disconnect();
  }

  get humanPresent(): boolean {
    return this.room.remoteParticipants.has(HUMAN_IDENTITY);
  }
}

function callerLeftWhileDialling(): TransferFailure {
  return { status: 'caller_hung_up', detail: 'the caller hung up while the human was dialled' };
}
