import { voice } from '@livekit/agents';
import type { CallTracker } from '../call-records/index.js';

/** The session events the record is built from (a subset of AgentSession's, for tests). */
export interface RecordedSession {
  on(
    event: voice.AgentSessionEventTypes.AgentStateChanged,
    cb: (ev: voice.AgentStateChangedEvent) => void,
  ): unknown;
  on(
    event: voice.AgentSessionEventTypes.UserStateChanged,
    cb: (ev: voice.UserStateChangedEvent) => void,
  ): unknown;
  on(
    event: voice.AgentSessionEventTypes.ConversationItemAdded,
    cb: (ev: voice.ConversationItemAddedEvent) => void,
  ): unknown;
  on(
    event: voice.AgentSessionEventTypes.FunctionToolsExecuted,
    cb: (ev: voice.FunctionToolsExecutedEvent) => void,
  ): unknown;
  on(
    event: voice.AgentSessionEventTypes.MetricsCollected,
    cb: (ev: voice.MetricsCollectedEvent) => void,
  ): unknown;
  on(
    event: voice.AgentSessionEventTypes.EotPrediction,
    cb: (ev: voice.EotPredictionEvent) => void,
  ): unknown;
}

/**
 * Feeds the call record from the session: the first agent audio, every turn (with barge-in and
 * how quickly the agent stopped for it), tool calls with their results, usage, and where each
 * reply's time went.
 */
export function recordSession(
  session: RecordedSession,
  tracker: CallTracker,
  /** When the onset pause is holding the agent's audio, since when (epoch ms). */
  onsetPausedSince: () => number | undefined = () => undefined,
): void {
  // The turn detector's verdict comes before the turn's metrics, which carry its speech ID.
  let prediction: { endOfTurnProbability: number; endOfTurnThreshold: number } | undefined;
  session.on(voice.AgentSessionEventTypes.EotPrediction, (ev) => {
    prediction = { endOfTurnProbability: ev.probability, endOfTurnThreshold: ev.threshold };
  });
  // When the VAD last decided the caller was speaking, while they still are.
  let callerSpeakingSince: number | undefined;
  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    callerSpeakingSince = ev.newState === 'speaking' ? ev.createdAt : undefined;
  });
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
    if (ev.newState === 'speaking') tracker.agentStartedSpeaking();
    // The framework stops (pauses) the agent's audio and moves it to listening when the caller
    // cuts in; an agent that finished on its own while the caller spoke counts too: either way
    // the caller spoke and the agent went quiet.
    if (
      ev.oldState === 'speaking' &&
      ev.newState === 'listening' &&
      callerSpeakingSince !== undefined
    ) {
      const pausedSince = onsetPausedSince();
      tracker.callerCutIn(
        new Date(callerSpeakingSince),
        new Date(ev.createdAt),
        pausedSince === undefined ? undefined : new Date(pausedSince),
      );
    }
  });
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    if (ev.item.type !== 'message') return;
    if (ev.item.role === 'assistant')
      tracker.said('agent', ev.item.textContent ?? '', ev.item.interrupted);
    if (ev.item.role === 'user') tracker.said('caller', ev.item.textContent ?? '');
  });
  session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
    ev.functionCalls.forEach((call, i) => {
      const out = ev.functionCallOutputs[i];
      tracker.toolCalled({
        name: call.name,
        arguments: call.args,
        output: out?.output ?? '',
        isError: out?.isError ?? false,
      });
    });
  });
  session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
    const m = ev.metrics;
    switch (m.type) {
      case 'stt_metrics':
        tracker.addUsage({ sttAudioSeconds: m.audioDurationMs / 1000 });
        break;
      case 'llm_metrics':
        tracker.addUsage({
          llmPromptTokens: m.promptTokens,
          llmCompletionTokens: m.completionTokens,
        });
        if (m.speechId !== undefined) tracker.addTiming(m.speechId, { llmTtftMs: m.ttftMs });
        break;
      case 'tts_metrics':
        tracker.addUsage({ ttsCharacters: m.charactersCount });
        if (m.speechId !== undefined) tracker.addTiming(m.speechId, { ttsTtfbMs: m.ttfbMs });
        break;
      case 'eou_metrics':
        if (m.speechId !== undefined)
          tracker.addTiming(m.speechId, {
            endOfUtteranceDelayMs: m.endOfUtteranceDelayMs,
            transcriptionDelayMs: m.transcriptionDelayMs,
            ...prediction,
          });
        prediction = undefined;
        break;
    }
  });
}
