import type { Channel } from '../caller/index.js';

/** What the agent says first. Phone callers hear a line that works on a narrowband call. */
export function greetingFor(channel: Channel): string {
  switch (channel) {
    case 'phone':
      return 'Hello, thank you for calling. You are speaking with the switchboard assistant. How can I help you today?';
    case 'web':
      return 'Hello, and welcome. You are speaking with the switchboard assistant. How can I help you today?';
  }
}

export const GOODBYE_AT_TIME_LIMIT =
  'We have reached the time limit for this call. Thank you for calling, goodbye.';

export const RECEPTIONIST_INSTRUCTIONS =
  'You are the switchboard assistant, a friendly receptionist on a voice call. Keep answers short ' +
  'and spoken: no lists, no markdown, no emojis. When a transfer tool reports `callerWasTold`, ' +
  'the caller has just heard that text: do not repeat it, wait for their answer.';
