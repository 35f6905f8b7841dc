import type { SipClient } from 'livekit-server-sdk';
import type { Caller } from '../caller/index.js';
import { referFailure, type TransferOutcome } from './outcome.js';

/**
 * REFERs a SIP caller to `target`: livekit-sip sends REFER in the caller's dialog and reports the
 * final NOTIFY. Completed means NOTIFY 200 arrived (livekit-sip then hangs up its leg).
 */
export async function referCaller(input: {
  sip: SipClient;
  room: string;
  caller: Caller;
  target: string;
}): Promise<TransferOutcome> {
  if (!input.caller.capabilities.referTransfer)
    return {
      status: 'not_possible',
      detail:
        input.caller.channel === 'web'
          ? 'a browser caller has no SIP dialog to REFER'
          : 'the caller has no SIP dialog to REFER',
    };
  try {
    await input.sip.transferSipParticipant(input.room, input.caller.identity, input.target, {
      playDialtone: false,
    });
    return { status: 'completed', method: 'refer' };
  } catch (err) {
    return referFailure(err);
  }
}
