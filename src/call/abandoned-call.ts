import type { JobContext } from '@livekit/agents';
import type { RemoteParticipant } from '@livekit/rtc-node';
import type { CallRecord } from '../call-records/index.js';

/**
 * Callers who hang up while it still rings. A call centre counts them (abandoned calls), so each
 * gets a record, and its job ends as soon as that is known, its seat free for the next caller.
 *
 * Two moments: the caller left before the agent joined (a CANCEL right after the INVITE: the job
 * process was still starting), so the agent finds a room without its caller, which livekit-server
 * closes after its departure timeout; or the caller was there and left before the answer.
 */

/**
 * The caller (or, with `identity`, that participant): undefined when the room closed first,
 * the caller having left before the agent joined.
 */
export async function waitForCaller(
  ctx: Pick<JobContext, 'waitForParticipant' | 'room'>,
  identity?: string,
): Promise<RemoteParticipant | undefined> {
  try {
    return await ctx.waitForParticipant(identity);
  } catch (err) {
    // agents 1.9.0 rejects with "Room disconnected while waiting for participant".
    if (!ctx.room.isConnected) return undefined;
    throw err;
  }
}

/** The record of a call whose caller left before the agent saw them: when, and nothing more. */
export function unseenCallerRecord(call: {
  callId: string;
  room: string;
  agentName: string;
  /** The room's creation: livekit-sip creates it on the INVITE. */
  arrivedAt: Date;
  startedAt: Date;
  endedAt: Date;
}): CallRecord {
  return {
    version: 1,
    callId: call.callId,
    room: call.room,
    agentName: call.agentName,
    caller: { channel: 'unknown', direction: 'inbound' },
    startedAt: call.startedAt.toISOString(),
    endedAt: call.endedAt.toISOString(),
    ringingMs: Math.max(0, call.endedAt.getTime() - call.arrivedAt.getTime()),
    outcome: 'abandoned',
    endReason: 'the caller hung up before the agent joined',
    turns: [],
    toolCalls: [],
    transfers: [],
    bargeIns: [],
    turnTimings: [],
    usage: { sttAudioSeconds: 0, llmPromptTokens: 0, llmCompletionTokens: 0, ttsCharacters: 0 },
  };
}
