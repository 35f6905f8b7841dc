import { llm } from '@livekit/agents';
import { z } from 'zod';
import { callOf } from '../call/call.js';

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
 * `send_dtmf_events`: DTMF out, e.g. to pass an extension to an IVR (RFC 4733 through
 * livekit-sip). The same name and arguments as the framework's tool, but refused for callers
 * without a SIP leg: a browser user has no line to send tones on.
 */
export function sendTonesTool() {
  return llm.tool({
    name: 'send_dtmf_events',
    description:
      'Send DTMF tones (keypad digits) on the phone line, e.g. an extension. Only works for phone callers.',
    parameters: z.object({
      events: z.array(z.enum(KEYS)).min(1).max(32).describe('The keys to send, in order.'),
    }),
    execute: async ({ events }, { ctx }) => callOf(ctx).sendTones(events.join('')),
  });
}
