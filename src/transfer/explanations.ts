import type { TransferFailureStatus } from './outcome.js';

/**
 * What the caller hears when a transfer does not go through: what happened and what next. Fixed
 * text (not model output), so every failure path is explained the same way on every call.
 */
const NEXT_STEP = 'I can take a message for them, or help you myself. What would you like to do?';

export const TRANSFER_EXPLANATIONS: Record<TransferFailureStatus, string> = {
  no_answer: `I'm sorry, nobody answered. ${NEXT_STEP}`,
  busy: `I'm sorry, the line is busy right now. ${NEXT_STEP}`,
  declined: `I'm sorry, my colleague can't take your call right now. ${NEXT_STEP}`,
  voicemail: `I'm sorry, I only reached a voicemail. ${NEXT_STEP}`,
  refused: `I'm sorry, your line did not accept the transfer. ${NEXT_STEP}`,
  timed_out: `I'm sorry, the transfer took too long and did not go through. ${NEXT_STEP}`,
  human_hung_up: `I'm sorry, my colleague had to hang up. ${NEXT_STEP}`,
  caller_hung_up: '',
  not_possible: `I can't transfer this call from here. ${NEXT_STEP}`,
  not_configured: `I'm sorry, I can't transfer calls on this line. ${NEXT_STEP}`,
  failed: `I'm sorry, the transfer did not work. ${NEXT_STEP}`,
};

export const HOLD_ANNOUNCEMENT =
  'Please hold while I connect you with a colleague. You will hear music while you wait.';
// No goodbye: a refused or failed REFER leaves the caller with the agent, who then explains.
export const COLD_TRANSFER_ANNOUNCEMENT = 'One moment, I am transferring your call now.';
export const CALLER_LEFT_NOTICE = 'I am sorry, the caller has hung up. Thank you, goodbye.';
export const HUMAN_CONNECTING_NOTICE = 'Thank you. Connecting you to the caller now.';
