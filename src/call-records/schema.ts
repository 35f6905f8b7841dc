import { z } from 'zod';
import { OUTBOUND_RESULTS } from '../outbound/outcome.js';
import { TransferRecordSchema } from '../transfer/record.js';

/**
 * One call record per call, one JSON object per line. Numbers live here, never in logs. The
 * format is versioned; readers validate with `CallRecordSchema`.
 */
const PhoneCallerRecord = z.object({
  channel: z.literal('phone'),
  direction: z.enum(['inbound', 'outbound']),
  identity: z.string(),
  displayName: z.string(),
  callerNumber: z.string().optional(),
  calledNumber: z.string().optional(),
  sipCallId: z.string().optional(),
  trunkId: z.string().optional(),
  dispatchRuleId: z.string().optional(),
  sipHeaders: z.record(z.string(), z.string()),
});

const WebCallerRecord = z.object({
  channel: z.literal('web'),
  direction: z.literal('inbound'),
  identity: z.string(),
  displayName: z.string(),
  userId: z.string().optional(),
});

/** A caller who left before the agent saw them (a CANCEL while it rang): nothing more is known. */
const UnseenCallerRecord = z.object({
  channel: z.literal('unknown'),
  direction: z.literal('inbound'),
});

export const CallOutcome = z.enum([
  'completed',
  'caller_hung_up',
  // The caller hung up while it still rang: before the agent's answer reached them.
  'abandoned',
  'agent_ended',
  'transferred',
  'failed',
  // A call the agent placed that no person took (see `outbound.result` for the SIP status).
  'no_answer',
  'busy',
  'declined',
  'voicemail',
]);

/** A call the agent placed: what was dialled and what came of it. */
const OutboundRecordSchema = z.object({
  /** The number dialled, E.164. */
  to: z.string(),
  /** The outbound trunk, by name or ID as the call options gave it. */
  trunk: z.string(),
  from: z.string().optional(),
  result: z.enum(OUTBOUND_RESULTS),
  sipStatus: z.number().int().optional(),
  /** INVITE sent -> answered or given up. Unit: ms. */
  ringingMs: z.number().nonnegative().optional(),
  /** Answering-machine detection (src/outbound/answering-machine.ts), when it ran. */
  answeringMachine: z
    .object({
      category: z.string(),
      /** voice.AMD gives no probability; its reason (llm, short_greeting, ...) stands in. */
      reason: z.string(),
      isMachine: z.boolean(),
      speechDurationMs: z.number().nonnegative(),
      delayMs: z.number().nonnegative(),
      decidedAfterAnswerMs: z.number().nonnegative(),
    })
    .optional(),
  /** The message left on a machine: after its beep, or after waiting for one in vain. */
  message: z.object({ afterBeep: z.boolean(), at: z.iso.datetime() }).optional(),
});
export type OutboundRecord = z.infer<typeof OutboundRecordSchema>;
export type CallOutcome = z.infer<typeof CallOutcome>;

export const CallRecordSchema = z.object({
  version: z.literal(1),
  /** The agent job's ID: unique per call. */
  callId: z.string(),
  room: z.string(),
  agentName: z.string(),
  caller: z.discriminatedUnion('channel', [PhoneCallerRecord, WebCallerRecord, UnseenCallerRecord]),
  /** ISO-8601 times: job start, the first agent audio played to the caller, the end. */
  startedAt: z.iso.datetime(),
  answeredAt: z.iso.datetime().optional(),
  endedAt: z.iso.datetime(),
  /**
   * An abandoned call: the call's arrival (its room's creation, which livekit-sip does on the
   * INVITE) -> the caller's hang-up as the agent saw it. For a caller who left before the agent
   * joined, the agent only learns it when the room closes, so this is an upper bound. Unit: ms.
   */
  ringingMs: z.number().nonnegative().optional(),
  outcome: CallOutcome,
  /** Why the call ended, in words (no PII). */
  endReason: z.string(),
  /** The conversation, in order: what the caller said (as transcribed) and what the agent said. */
  turns: z.array(
    z.object({
      role: z.enum(['caller', 'agent']),
      at: z.iso.datetime(),
      text: z.string(),
      /** The agent was cut off by the caller (barge-in). */
      interrupted: z.boolean().optional(),
    }),
  ),
  toolCalls: z.array(
    z.object({
      at: z.iso.datetime(),
      name: z.string(),
      arguments: z.string(),
      output: z.string(),
      isError: z.boolean(),
    }),
  ),
  /** Where each reply's time went, per the agents framework's metrics. Unit: ms. */
  turnTimings: z.array(
    z.object({
      speechId: z.string(),
      /** The caller's end of speech -> end of turn decided (VAD silence wait plus endpointing). */
      endOfUtteranceDelayMs: z.number(),
      /** The caller's end of speech -> final transcript. */
      transcriptionDelayMs: z.number(),
      llmTtftMs: z.number().optional(),
      ttsTtfbMs: z.number().optional(),
      /** The turn detector's end-of-turn probability for this turn, and its "unlikely" threshold. */
      endOfTurnProbability: z.number().min(0).max(1).optional(),
      endOfTurnThreshold: z.number().min(0).max(1).optional(),
    }),
  ),
  /**
   * Each time the agent stopped talking because the caller spoke over it (barge-in): when the
   * VAD decided the caller was speaking, and how long after that the agent's audio was stopped.
   * The caller's audio reaches the VAD, and the agent's silence reaches the caller, outside this.
   * `onsetPausedAt`: when the agent's audio was already paused, at the first window that looked
   * like speech, before the VAD decided (the onset pause, docs/turn-taking.md).
   */
  bargeIns: z
    .array(
      z.object({
        heardAt: z.iso.datetime(),
        stoppedAfterMs: z.number().nonnegative(),
        onsetPausedAt: z.iso.datetime().optional(),
      }),
    )
    .default([]),
  /** Present on a call the agent placed (direction outbound). */
  outbound: OutboundRecordSchema.optional(),
  /** Transfers tried during the call, in order (the last one decides a `transferred` outcome). */
  transfers: z.array(TransferRecordSchema).default([]),
  /** What the agent's own tools attached (`call.annotate`): booking references, topics. */
  annotations: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /**
   * Present when the record as the call produced it did not validate (a bug, never expected):
   * the fields that did are kept as they were, the others replaced or dropped, and the whole
   * original is kept as JSON, so nothing is lost (see salvage.ts).
   */
  degraded: z.object({ problems: z.array(z.string()), original: z.string() }).optional(),
  usage: z.object({
    /** Seconds of caller audio sent to speech recognition. */
    sttAudioSeconds: z.number().nonnegative(),
    llmPromptTokens: z.number().int().nonnegative(),
    llmCompletionTokens: z.number().int().nonnegative(),
    ttsCharacters: z.number().int().nonnegative(),
  }),
});

export type CallRecord = z.infer<typeof CallRecordSchema>;
