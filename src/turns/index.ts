export {
  endOfTurnProbability,
  lastWord,
  LEXICAL_UNLIKELY_THRESHOLD,
  LexicalTurnDetector,
} from './lexical-turn-detector.js';
export { ObservedVad, type VadWindow } from './observed-vad.js';
export {
  SpeechOnsetPause,
  type OnsetSpeech,
  type PausableOutput,
  type SpeechOnsetPauseOptions,
} from './speech-onset-pause.js';
export {
  DEFAULT_TURN_TAKING,
  ONSET_CONFIRM_SLACK_MS,
  onsetPauseOptions,
  resolveTurnTaking,
  sessionTurnOptions,
  TurnTakingOverridesSchema,
  TurnTakingSchema,
  type SessionTurnOptions,
  type TurnTaking,
  type TurnTakingOverrides,
} from './turn-taking.js';
