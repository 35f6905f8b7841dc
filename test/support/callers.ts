import { ParticipantKind } from '@livekit/rtc-node';
import { describeCaller, type Caller } from '../../src/caller/index.js';

/** Callers as the caller model builds them from a participant, for unit tests. */
export const phoneCaller: Caller = describeCaller({
  identity: 'sip_+15551230000',
  kind: ParticipantKind.SIP,
  attributes: { 'sip.callID': 'SCL_1', 'sip.phoneNumber': '+15551230000' },
});

export const webCaller: Caller = describeCaller({
  identity: 'web-user-1',
  kind: ParticipantKind.STANDARD,
  attributes: {},
});
