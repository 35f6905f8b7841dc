import { inference, type voice } from '@livekit/agents';
import { z } from 'zod';
import type { Channel } from '../caller/index.js';
import { LexicalTurnDetector } from './lexical-turn-detector.js';

/**
 * How the agent takes turns: when the caller has finished, when the caller cuts in, and how early
 * the reply is prepared. Every value is in milliseconds; each one trades speed against a risk,
 * named on the field. Defaults per channel are measured (bench/RESULTS.md "Turn-taking").
 */
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

export const TurnTakingSchema = z
  .object({
    /**
     * What decides that the caller has finished: `lexical` (the transcript so far: a turn ending
     * on "is", "for", "and", ... waits `maxEndpointingMs`), `audio_model` (the framework's local
     * audio end-of-turn model), `vad` (silence alone). Trade: `vad` answers mid-sentence pauses.
     */
    detector: z.enum(['lexical', 'audio_model', 'vad']),
    /**
     * Silence before the VAD calls the caller's speech ended (Silero `minSilenceDuration`).
     * Shorter answers sooner and splits the turn at shorter pauses. The framework requires at
     * least 250 with a turn detector.
     */
    vadSilenceMs: ms(250, 2_000),
    /** Least wait after the caller's speech ends before the reply. */
    minEndpointingMs: ms(0, 5_000),
    /** The wait when the detector thinks the caller is mid-sentence. Longer: fewer cut-offs, slower answers to a real stop. */
    maxEndpointingMs: ms(0, 10_000),
    /**
     * Caller speech over the agent that stops it, as Silero counts it: from its speech start, which
     * already needs two 32 ms windows above its threshold (so 64 at the start), then 32 per window
     * whether the caller goes on or not, until `vadSilenceMs` of silence. So any value up to about
     * `vadSilenceMs` only delays the stop and filters no noise; longer values (words rather than
     * a cough) do filter.
     */
    interruptionMinSpeechMs: ms(50, 3_000),
    /**
     * A single Silero window's speech probability (0-1) that pauses the agent at once, before the
     * VAD has declared speech (which takes two windows above 0.5, and the framework stops the
     * agent a window later); 0 off. If the VAD gives up on the sound (a click, a breath) or the
     * framework has not stopped the agent `interruptionMinSpeechMs` + 200 ms later, the agent
     * resumes, having skipped the audio it had buffered (up to 100 ms). Lower pauses on more
     * noises. Ignored when `interruptionMinWords` is above 0 (no pause could be confirmed before
     * words come) or `interruptionMinSpeechMs` is above `vadSilenceMs` (the line filters short
     * sounds by their length, and the pause would stop the agent for each of them).
     */
    onsetPauseProbability: z.number().min(0).max(1),
    /** Words the caller must have said before their speech stops the agent (0: any speech). */
    interruptionMinWords: z.number().int().min(0).max(10),
    /**
     * After a stop with no words transcribed (a cough, a knock), the agent resumes its sentence
     * after this long; 0 never resumes (every stop drops the sentence).
     */
    falseInterruptionMs: ms(0, 10_000),
    /** Start the model's reply on the final transcript, before the turn is decided. Costs tokens on turns that go on. */
    preemptiveGeneration: z.boolean(),
    /** With preemptive generation, also synthesize the reply's first audio early. */
    preemptiveTts: z.boolean(),
    /**
     * After the agent starts speaking, caller audio cannot interrupt for this long (echo from
     * the agent's own voice while a browser's echo canceller adapts); 0 off.
     */
    echoWarmupMs: ms(0, 10_000),
  })
  .strict();

export type TurnTaking = z.infer<typeof TurnTakingSchema>;

/** Per-line or per-agent changes to the channel's defaults; the endpointing range must hold. */
export const TurnTakingOverridesSchema = TurnTakingSchema.partial().strict();
export type TurnTakingOverrides = z.infer<typeof TurnTakingOverridesSchema>;

/**
 * The defaults, per channel. The phone has no echo warm-up (the carrier cancels the line's echo,
 * and a caller must be able to cut into the greeting); the browser keeps the framework's 3 s for
 * its echo canceller. See bench/RESULTS.md for the measurements behind each figure.
 */
const PHONE_TURN_TAKING: TurnTaking = Object.freeze({
  detector: 'lexical',
  vadSilenceMs: 300,
  minEndpointingMs: 300,
  maxEndpointingMs: 1_600,
  // The stop at Silero's speech start: 150 filtered nothing more and stopped 96 ms later.
  interruptionMinSpeechMs: 64,
  // Silero's own threshold: on the benchmark's calls 0.3 paused on no earlier window than this,
  // and a lower one pauses on more noises (bench/RESULTS.md, "Turn-taking, the onset pause").
  onsetPauseProbability: 0.5,
  interruptionMinWords: 0,
  falseInterruptionMs: 1_500,
  preemptiveGeneration: true,
  preemptiveTts: true,
  echoWarmupMs: 0,
});

export const DEFAULT_TURN_TAKING: Readonly<Record<Channel, TurnTaking>> = Object.freeze({
  phone: PHONE_TURN_TAKING,
  // The same, but for the browser's echo canceller.
  web: Object.freeze({ ...PHONE_TURN_TAKING, echoWarmupMs: 3_000 }),
});

/** The channel's defaults, then the agent's, then the line's; an impossible range is refused. */
export function resolveTurnTaking(
  channel: Channel,
  agent: Partial<Record<Channel, TurnTakingOverrides>> = {},
  line: TurnTakingOverrides = {},
): TurnTaking {
  const merged = { ...DEFAULT_TURN_TAKING[channel], ...agent[channel], ...line };
  if (merged.maxEndpointingMs < merged.minEndpointingMs)
    throw new RangeError(
      `turnTaking: maxEndpointingMs (${merged.maxEndpointingMs}) is below minEndpointingMs (${merged.minEndpointingMs})`,
    );
  return merged;
}

type TurnHandling = NonNullable<voice.AgentSessionOptions['turnHandling']>;

/** What the session and the VAD are given for a turn-taking policy. */
export interface SessionTurnOptions {
  turnHandling: TurnHandling;
  /** The framework's `aecWarmupDuration`, in ms; null off. */
  aecWarmupDuration: number | null;
  /** For the VAD (Silero `minSilenceDuration`), in ms. */
  vadMinSilenceMs: number;
}

/**
 * The agents framework's options for a policy. The framework's units are ms here too, except
 * where noted by its own names; this is the one place that maps them.
 */
export function sessionTurnOptions(t: TurnTaking): SessionTurnOptions {
  return {
    turnHandling: {
      turnDetection: turnDetector(t.detector),
      endpointing: { mode: 'fixed', minDelay: t.minEndpointingMs, maxDelay: t.maxEndpointingMs },
      interruption: {
        enabled: true,
        // VAD-based: the framework's adaptive mode needs a cloud model and aligned transcripts.
        mode: 'vad',
        minDuration: t.interruptionMinSpeechMs,
        minWords: t.interruptionMinWords,
        resumeFalseInterruption: t.falseInterruptionMs > 0,
        ...(t.falseInterruptionMs > 0 ? { falseInterruptionTimeout: t.falseInterruptionMs } : {}),
      },
      preemptiveGeneration: { enabled: t.preemptiveGeneration, preemptiveTts: t.preemptiveTts },
    },
    aecWarmupDuration: t.echoWarmupMs === 0 ? null : t.echoWarmupMs,
    vadMinSilenceMs: t.vadSilenceMs,
  };
}

function turnDetector(detector: TurnTaking['detector']): TurnHandling['turnDetection'] {
  switch (detector) {
    case 'lexical':
      return new LexicalTurnDetector();
    case 'audio_model':
      // The local model always: the cloud one this machine (and many deployments) cannot reach.
      return new inference.TurnDetector({ version: 'v1-mini' });
    case 'vad':
      return 'vad';
  }
}

/**
 * Time after the onset pause for the framework's own stop: the VAD's speech start (two windows
 * above its threshold, often the two after the onset window) and one window more. Unit: ms.
 */
export const ONSET_CONFIRM_SLACK_MS = 200;

/** The onset pause a policy asks for, or undefined when it is off or could not be confirmed. */
export function onsetPauseOptions(
  t: TurnTaking,
): { onsetProbability: number; confirmMs: number; echoWarmupMs: number } | undefined {
  if (
    t.onsetPauseProbability === 0 ||
    t.interruptionMinWords > 0 ||
    t.interruptionMinSpeechMs > t.vadSilenceMs
  )
    return undefined;
  return {
    onsetProbability: t.onsetPauseProbability,
    confirmMs: t.interruptionMinSpeechMs + ONSET_CONFIRM_SLACK_MS,
    echoWarmupMs: t.echoWarmupMs,
  };
}
