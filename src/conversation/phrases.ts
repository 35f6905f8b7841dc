/**
 * The fixed lines of a call, said by the package rather than the model: the agent definition may
 * replace any of them (`phrases`), e.g. to name what the line can help with.
 */
export interface CallPhrases {
  /** After the first quiet spell. */
  silencePrompt: string;
  /** After a second quiet spell, before hanging up. */
  goodbyeAfterSilence: string;
  /** The caller spoke, but nothing could be transcribed. */
  notUnderstood: string;
  /** The line's `maxCallDurationMs` was reached. */
  goodbyeAtTimeLimit: string;
}

export const SILENCE_PROMPT = 'Are you still there? How can I help you?';
export const GOODBYE_AFTER_SILENCE =
  "I haven't heard anything for a while, so I will end the call now. Goodbye.";
export const NOT_UNDERSTOOD_APOLOGY = "Sorry, I didn't catch that. Could you say it again?";
export const GOODBYE_AT_TIME_LIMIT =
  'We have reached the time limit for this call. Thank you for calling, goodbye.';

export const DEFAULT_PHRASES: Readonly<CallPhrases> = Object.freeze({
  silencePrompt: SILENCE_PROMPT,
  goodbyeAfterSilence: GOODBYE_AFTER_SILENCE,
  notUnderstood: NOT_UNDERSTOOD_APOLOGY,
  goodbyeAtTimeLimit: GOODBYE_AT_TIME_LIMIT,
});
