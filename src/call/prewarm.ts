import { log, type JobProcess, type VAD } from '@livekit/agents';
import type { Channel } from '../caller/index.js';
import { TECHNICAL_TROUBLE_APOLOGY } from '../conversation/last-words.js';
import { PrerenderedSpeech } from '../conversation/prerendered-speech.js';
import { greetingText, type CallAgentDefinition, type CallModels } from './definition.js';
import { loadDefaultVad } from './process-vad.js';

/** What a job process prepares before any call arrives, kept in `proc.userData`. */
export interface PreparedProcess {
  vad?: VAD;
  /** Greetings rendered by the TTS before any call: no synthesis while the caller waits. */
  greetings: Partial<Record<Channel, PrerenderedSpeech>>;
  /** Rendered while the model server works, for the moment it does not. */
  apology?: PrerenderedSpeech;
}

const PRERENDER_TIMEOUT_MS = 10_000;
const PREPARED = Symbol.for('switchboard.prepared-process');

/**
 * Runs once per job process, before a call arrives: model loading and greeting synthesis off the
 * caller's wait. A failed prerender is not fatal: that line is synthesized per call instead.
 */
export async function prepareProcess(
  proc: JobProcess,
  def: CallAgentDefinition,
  models: () => CallModels,
): Promise<void> {
  const prepared: PreparedProcess = { greetings: {} };
  prepared.vad = await (def.vad ?? loadDefaultVad)();
  const { tts } = models();
  const render = (text: string) =>
    PrerenderedSpeech.render(tts, text, AbortSignal.timeout(PRERENDER_TIMEOUT_MS));
  const texts = new Map<string, PrerenderedSpeech | undefined>();
  for (const channel of ['phone', 'web'] as const) {
    const text = greetingText(def.greeting, channel);
    // One rendering when both channels share a greeting.
    if (!texts.has(text)) {
      try {
        texts.set(text, await render(text));
      } catch (err) {
        texts.set(text, undefined);
        log().warn(
          { err, channel },
          'could not prerender the greeting; it will be synthesized per call',
        );
      }
    }
    const speech = texts.get(text);
    if (speech !== undefined) prepared.greetings[channel] = speech;
  }
  try {
    prepared.apology = await render(TECHNICAL_TROUBLE_APOLOGY);
  } catch (err) {
    log().warn(
      { err },
      'could not prerender the apology; a model failure will end calls without it',
    );
  }
  await tts.close();
  (proc.userData as Record<symbol, unknown>)[PREPARED] = prepared;
}

/** The process's preparation; empty when prewarm did not run (the framework's console mode). */
export function preparedProcess(proc: JobProcess): PreparedProcess {
  return (
    ((proc.userData as Record<symbol, unknown>)[PREPARED] as PreparedProcess | undefined) ?? {
      greetings: {},
    }
  );
}
