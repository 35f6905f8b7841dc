import { beta, llm } from '@livekit/agents';
import { z } from 'zod';
import type { Caller } from '../caller/index.js';

const KEYS = [
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  '0',
  '*',
  '#',
  'A',
  'B',
  'C',
  'D',
] as const;

/**
 * `send_dtmf_events`: DTMF out, e.g. to pass an extension to an IVR. Delegates to the framework's
 * tool (RFC 4733 through livekit-sip), but only for callers with a SIP leg: a browser user has no
 * line to send tones on.
 */
export function sendTonesTool(caller: () => Caller) {
  return llm.tool({
    name: 'send_dtmf_events',
    description:
      'Send DTMF tones (keypad digits) on the phone line, e.g. an extension. Only works for phone callers.',
    parameters: z.object({
      events: z.array(z.enum(KEYS)).min(1).max(32).describe('The keys to send, in order.'),
    }),
    execute: async (args, opts) => {
      if (!caller().capabilities.dtmf) return { error: 'no_phone_line' };
      return beta.sendDtmfEvents.execute(args, opts);
    },
  });
}
