import type { SipClient } from 'livekit-server-sdk';
import type { Caller } from '../caller/index.js';
import { referFailure, type TransferOutcome } from './outcome.js';
import { toSipSeconds } from './sip-units.js';

/**
 * REFERs a SIP caller to `target`: livekit-sip sends REFER in the caller's dialog and reports the
 * final NOTIFY. Completed means NOTIFY 200 arrived (livekit-sip then hangs up its leg).
 */
export async function referCaller(input: {
  sip: SipClient;
  room: string;
  caller: Caller;
  target: string;
  /** Until the final NOTIFY; livekit-server cancels the REFER after this (its ringing timeout). */
  timeoutMs: number;
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
    // The SDK derives its request timeout from this (plus a margin): a client-wide
    // requestTimeout does not apply to transfers.
    await input.sip.transferSipParticipant(input.room, input.caller.identity, input.target, {
      playDialtone: false,
      ringingTimeout: toSipSeconds(input.timeoutMs),
    });
    return { status: 'completed', method: 'refer' };
  } catch (err) {
    return referFailure(err);
  }
}
