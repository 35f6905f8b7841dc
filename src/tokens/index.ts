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
