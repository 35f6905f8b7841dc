export {
  describeCaller,
  SIP_ATTR,
  WEB_ATTR,
  type Caller,
  type CallerCapabilities,
  type CallStatus,
  type Channel,
  type ParticipantSnapshot,
  type PhoneCaller,
  type WebCaller,
} from './caller.js';
export { maskPhoneNumber, normalizePhoneNumber } from './phone-number.js';
export { LiveCaller, type CallStatusChange } from './live-caller.js';
export { invertHeaderMapping, TrunkHeaderDirectory } from './trunk-headers.js';
export { AGENT_ATTR, isAgent, isCaller, snapshotOf } from './participants.js';
