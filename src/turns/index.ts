export {
  endOfTurnProbability,
  lastWord,
  LEXICAL_UNLIKELY_THRESHOLD,
  LexicalTurnDetector,
} from './lexical-turn-detector.js';
export {
  DEFAULT_TURN_TAKING,
  resolveTurnTaking,
  sessionTurnOptions,
  TurnTakingOverridesSchema,
  TurnTakingSchema,
  type SessionTurnOptions,
  type TurnTaking,
  type TurnTakingOverrides,
} from './turn-taking.js';
