export {
  callbackName,
  CallbackEndpoint,
  type CallbackAccepted,
  type CallbackEndpointOptions,
  type CallbackHttpResponse,
  type CallbackRefusal,
  type CallbackRefusalCode,
  type ClosableCampaignStore,
} from './callback-endpoint.js';
export {
  loadAuthorizer,
  openAccess,
  type AuthorizationResult,
  type TokenAuthorizer,
  type TokenRequestContext,
} from './authorize.js';
export {
  BROWSER_CALLER_GRANT,
  createParticipantToken,
  userRoomPrefix,
  type ParticipantToken,
  type ParticipantTokenRequest,
} from './participant-token.js';
export { RateLimiter, type RateDecision } from './rate-limit.js';
export {
  livekitUserCalls,
  TokenEndpoint,
  type TokenEndpointOptions,
  type TokenHttpRequest,
  type TokenHttpResponse,
  type TokenIssued,
  type TokenRefusal,
  type TokenRefusalCode,
  type UserCallDirectory,
} from './token-endpoint.js';
export {
  WebGate,
  type Admitted,
  type GateDecision,
  type GateRefusalCode,
  type WebGateOptions,
  type WebHttpRequest,
  type WebHttpResponse,
  type WebRefusal,
} from './web-gate.js';
