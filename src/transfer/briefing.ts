import type { CallRecord } from '../call-records/index.js';

/**
 * What the human hears on answering: who is calling, why, and what they said so far (from the
 * call record), then how to accept or decline. Built from the record, not by a model, so the
 * briefing never invents facts.
 */
export const ACCEPT_KEY = '1';
export const DECLINE_KEY = '2';

const MAX_QUOTED_TURNS = 3;

export function briefingText(input: {
  reason: string;
  channel: 'phone' | 'web';
  turns: CallRecord['turns'];
}): string {
  const said = input.turns
    .filter((t) => t.role === 'caller' && t.text.trim() !== '')
    .slice(-MAX_QUOTED_TURNS)
    .map((t) => t.text.trim());
  const from = input.channel === 'phone' ? 'a caller on the phone' : 'a caller on the website';
  const parts = [`Hello, this is the switchboard assistant. I have ${from} on hold.`];
  const reason = input.reason.trim();
  if (reason !== '') parts.push(`They need help with: ${reason}.`);
  if (said.length > 0) parts.push(`They said: ${said.join('. ')}.`);
  parts.push(
    `To take the call, say yes or press ${ACCEPT_KEY}. To decline, say no or press ${DECLINE_KEY}.`,
  );
  return parts.join(' ');
}
