/**
 * The receptionist: answers questions, takes an account number on the keypad, and transfers to
 * the front desk or a colleague on lines configured for it. One agent for phone and browser.
 *
 *   npm run agent dev     development worker against the local stack (or LIVEKIT_URL)
 *   npm run agent start   production worker (after npm run build)
 */
import { llm } from '@livekit/agents';
import { callOf, defineCallAgent, runAgentWorker } from '../src/index.js';

export const ACCOUNT_NUMBER_PROMPT =
  'Please type your account number on your keypad, then press the pound key.';

const collectAccountNumber = llm.tool({
  description:
    "Collect the caller's account number from their phone keypad. Call when the caller wants to give their account number.",
  execute: async (_args, { ctx }) => {
    const result = await callOf(ctx).collectDigits({
      prompt: ACCOUNT_NUMBER_PROMPT,
      reprompt: "I didn't get that. Please type your account number, then press the pound key.",
      terminator: '#',
      // The first-digit time includes the spoken prompt (about four seconds).
      firstDigitTimeoutMs: 12_000,
      interDigitTimeoutMs: 5_000,
    });
    if (result.status === 'no_keypad')
      return { error: 'no_keypad', hint: 'ask the caller to say the account number' };
    return result.status === 'complete' ? { digits: result.digits } : { error: 'no_digits' };
  },
});

const agent = defineCallAgent({
  name: 'switchboard',
  instructions:
    'You are the switchboard assistant, a friendly receptionist on a voice call. Keep answers short ' +
    'and spoken: no lists, no markdown, no emojis. When a transfer tool reports `callerWasTold`, ' +
    'the caller has just heard that text: do not repeat it, wait for their answer.',
  greeting: {
    phone:
      'Hello, thank you for calling. You are speaking with the switchboard assistant. How can I help you today?',
    web: 'Hello, and welcome. You are speaking with the switchboard assistant. How can I help you today?',
  },
  tools: { collect_account_number: collectAccountNumber },
});

export default agent;
await runAgentWorker(agent, import.meta.url);
