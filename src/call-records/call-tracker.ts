import type { Caller } from '../caller/index.js';
import type { TransferRecord } from '../transfer/record.js';
import type { CallOutcome, CallRecord, OutboundRecord } from './schema.js';

/**
 * Collects what happens during one call and turns it into a `CallRecord`. The first recorded
 * end wins: a caller who hangs up while the agent is ending the call is still "agent_ended".
 */
export class CallTracker {
  private readonly startedAt: Date;
  private answeredAt?: Date;
  private end?: { outcome: CallOutcome; reason: string; at: Date };
  private ringingMs?: number;
  private readonly turns: CallRecord['turns'] = [];
  private readonly toolCalls: CallRecord['toolCalls'] = [];
  private readonly transfers: TransferRecord[] = [];
  private readonly bargeIns: CallRecord['bargeIns'] = [];
  private readonly annotations: Record<string, string | number | boolean> = {};
  private outboundCall?: OutboundRecord;
  private readonly timings = new Map<string, CallRecord['turnTimings'][number]>();
  private readonly changeListeners = new Set<() => void>();
  private readonly usage: CallRecord['usage'] = {
    sttAudioSeconds: 0,
    llmPromptTokens: 0,
    llmCompletionTokens: 0,
    ttsCharacters: 0,
  };

  constructor(
    private readonly base: { callId: string; room: string; agentName: string; caller: Caller },
    private readonly now: () => Date = () => new Date(),
  ) {
    this.startedAt = now();
  }

  get callId(): string {
    return this.base.callId;
  }

  /** Called after every change to the record (checkpoints follow the call with it). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** The caller model as it is now: attributes that arrived after join belong in the record. */
  updateCaller(caller: Caller): void {
    this.base.caller = caller;
    this.changed();
  }

  agentStartedSpeaking(): void {
    this.answeredAt ??= this.now();
    this.changed();
  }

  said(role: 'caller' | 'agent', text: string, interrupted = false): void {
    // Before the answer nothing the agent says reaches the caller: a greeting cut off by the
    // caller's hang-up while it rang was never heard.
    if (role === 'agent' && this.end?.outcome === 'abandoned') return;
    this.turns.push({
      role,
      at: this.now().toISOString(),
      text,
      ...(interrupted ? { interrupted } : {}),
    });
    this.changed();
  }

  toolCalled(call: { name: string; arguments: string; output: string; isError: boolean }): void {
    this.toolCalls.push({ at: this.now().toISOString(), ...call });
    this.changed();
  }

  /** Values the agent's tools attach to the record; a later value for a key replaces the earlier. */
  annotate(values: Readonly<Record<string, string | number | boolean>>): void {
    Object.assign(this.annotations, values);
    this.changed();
  }

  /** A placed call's dial, detection and message, as each becomes known (later fields merge in). */
  outbound(update: OutboundRecord | Partial<OutboundRecord>): void {
    this.outboundCall = { ...this.outboundCall, ...update } as OutboundRecord;
    this.changed();
  }

  transferAttempted(transfer: TransferRecord): void {
    this.transfers.push(transfer);
    this.changed();
  }

  /**
   * The agent stopped talking for the caller, who the VAD heard from `heardAt` on; its audio
   * may have been paused before that, at `onsetPausedAt`.
   */
  callerCutIn(heardAt: Date, stoppedAt: Date, onsetPausedAt?: Date): void {
    this.bargeIns.push({
      heardAt: heardAt.toISOString(),
      stoppedAfterMs: Math.max(0, stoppedAt.getTime() - heardAt.getTime()),
      ...(onsetPausedAt === undefined ? {} : { onsetPausedAt: onsetPausedAt.toISOString() }),
    });
    this.changed();
  }

  /** Adds a reply's timings as the framework reports them (end of turn, then LLM, then TTS). */
  addTiming(
    speechId: string,
    part: Partial<Omit<CallRecord['turnTimings'][number], 'speechId'>>,
  ): void {
    const entry = this.timings.get(speechId) ?? {
      speechId,
      endOfUtteranceDelayMs: 0,
      transcriptionDelayMs: 0,
    };
    this.timings.set(speechId, { ...entry, ...part });
    this.changed();
  }

  addUsage(delta: Partial<CallRecord['usage']>): void {
    this.usage.sttAudioSeconds += delta.sttAudioSeconds ?? 0;
    this.usage.llmPromptTokens += delta.llmPromptTokens ?? 0;
    this.usage.llmCompletionTokens += delta.llmCompletionTokens ?? 0;
    this.usage.ttsCharacters += delta.ttsCharacters ?? 0;
  }

  ended(outcome: CallOutcome, reason: string): void {
    this.end ??= { outcome, reason, at: this.now() };
    this.changed();
  }

  /** The caller hung up while it rang, `ringingMs` after the call arrived. */
  abandoned(ringingMs: number, reason: string): void {
    if (this.end !== undefined) return;
    this.ringingMs = Math.max(0, Math.round(ringingMs));
    this.ended('abandoned', reason);
  }

  get hasEnded(): boolean {
    return this.end !== undefined;
  }

  toRecord(): CallRecord {
    const end = this.end ?? {
      outcome: 'failed' as const,
      reason: 'the call ended without a recorded cause',
      at: this.now(),
    };
    const { capabilities: _c, ...caller } = this.base.caller;
    const callerRecord =
      caller.channel === 'phone' ? (({ callStatus: _s, ...rest }) => rest)(caller) : caller;
    return {
      version: 1,
      callId: this.base.callId,
      room: this.base.room,
      agentName: this.base.agentName,
      caller: callerRecord,
      startedAt: this.startedAt.toISOString(),
      ...(this.answeredAt === undefined ? {} : { answeredAt: this.answeredAt.toISOString() }),
      endedAt: end.at.toISOString(),
      ...(this.ringingMs === undefined ? {} : { ringingMs: this.ringingMs }),
      outcome: end.outcome,
      endReason: end.reason,
      turns: this.turns,
      toolCalls: this.toolCalls,
      transfers: this.transfers,
      bargeIns: this.bargeIns,
      ...(this.outboundCall === undefined ? {} : { outbound: { ...this.outboundCall } }),
      ...(Object.keys(this.annotations).length === 0
        ? {}
        : { annotations: { ...this.annotations } }),
      // Replies that followed a caller turn (the greeting and prompts have no end of utterance).
      turnTimings: [...this.timings.values()].filter(
        (t) => t.endOfUtteranceDelayMs > 0 || t.transcriptionDelayMs > 0,
      ),
      usage: { ...this.usage, sttAudioSeconds: Math.round(this.usage.sttAudioSeconds * 100) / 100 },
    };
  }
}
