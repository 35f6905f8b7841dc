import type { Caller } from '../caller/index.js';
import type { HandOffStrategy } from './options.js';

/**
 * How an accepted warm transfer reaches the human, in order of preference. `refer` hands the SIP
 * caller to the human's own destination (livekit-sip sends REFER; LiveKit leaves the call);
 * `join` brings caller and human together in LiveKit (the server's MoveParticipant where it is
 * implemented, else a bridge kept by this job). A browser user has no SIP dialog, so only `join`.
 */
export type HandOffStep = 'refer' | 'join';

export function handOffSteps(caller: Caller, strategy: HandOffStrategy): HandOffStep[] {
  const canRefer = caller.capabilities.referTransfer;
  switch (strategy) {
    case 'refer_first':
      return canRefer ? ['refer', 'join'] : ['join'];
    case 'bridge_first':
      return canRefer ? ['join', 'refer'] : ['join'];
    case 'bridge_only':
      return ['join'];
  }
}
