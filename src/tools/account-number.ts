import { llm } from '@livekit/agents';
import type { Caller } from '../caller/index.js';
import { collectDigits, type DtmfSource } from '../dtmf/index.js';

export const ACCOUNT_NUMBER_PROMPT =
  'Please type your account number on your keypad, then press the pound key.';
export const ACCOUNT_NUMBER_REPROMPT =
  "I didn't get that. Please type your account number, then press the pound key.";

/**
 * `collect_account_number`: reads the account number from the caller's keypad (DTMF) with a
 * prompt, a timeout and one retry. Callers without a keypad (browser users) get a refusal the
 * model turns into "please say it". The digits go to the model as the tool's result, and so into
 * the call record.
 */
export function accountNumberTool(opts: {
  caller: () => Caller;
  dtmf: DtmfSource;
  say: (text: string) => void;
  signal: AbortSignal;
}) {
  return llm.tool({
    name: 'collect_account_number',
    description:
      "Collect the caller's account number from their phone keypad. Call when the caller wants to give their account number.",
    execute: async () => {
      if (!opts.caller().capabilities.dtmf) {
        return { error: 'no_keypad', hint: 'ask the caller to say the account number' };
      }
      const result = await collectDigits(
        opts.dtmf,
        (attempt) => opts.say(attempt === 1 ? ACCOUNT_NUMBER_PROMPT : ACCOUNT_NUMBER_REPROMPT),
        // The first-digit time includes the spoken prompt (about four seconds).
        { attempts: 2, terminator: '#', firstDigitTimeoutMs: 12_000, interDigitTimeoutMs: 5_000 },
        opts.signal,
      );
      // Objects, not strings: the framework JSON-encodes the result for the model.
      return result.status === 'complete' ? { digits: result.digits } : { error: 'no_digits' };
    },
  });
}
