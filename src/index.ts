/**
 * switchboard: phone (SIP) and browser voice agents on LiveKit Agents. An agent file holds its
 * persona and calls `defineCallAgent`; everything a call needs around it comes from here.
 *
 * @packageDocumentation
 */

// Writing an agent.
export {
  callOf,
  defineCallAgent,
  runAgentWorker,
  type Annotation,
  type Call,
  type CallAgent,
  type CallAgentDefinition,
  type CallModels,
  type CallTools,
  type CollectDigitsRequest,
  type CollectDigitsResult,
  type Greeting,
} from './call/index.js';
export type { CallPhrases } from './conversation/phrases.js';
export type { DigitResult } from './dtmf/index.js';
export type { TransferToolResult } from './transfer/index.js';

// Who is calling.
export type {
  Caller,
  CallerCapabilities,
  CallStatus,
  Channel,
  PhoneCaller,
  WebCaller,
} from './caller/index.js';

// Per-line options (the dispatch's agent metadata).
export { CallOptionsSchema, type CallOptions } from './dispatch/index.js';
export { TransferOptionsSchema, type TransferOptions } from './transfer/index.js';

// Call records.
export {
  CallOutcome,
  CallRecordSchema,
  readCallRecords,
  verifyWebhookSignature,
  type CallRecord,
  type RecordSink,
} from './call-records/index.js';

// Browser callers: tokens for your own token endpoint, and callbacks a page asks for.
export {
  CallbackEndpoint,
  createParticipantToken,
  loadAuthorizer,
  openAccess,
  TokenEndpoint,
  type AuthorizationResult,
  type CallbackAccepted,
  type CallbackEndpointOptions,
  type CallbackHttpResponse,
  type CallbackRefusal,
  type CallbackRefusalCode,
  type ParticipantToken,
  type ParticipantTokenRequest,
  type TokenAuthorizer,
  type TokenEndpointOptions,
  type TokenHttpRequest,
  type TokenHttpResponse,
  type TokenRefusal,
  type TokenRefusalCode,
  type TokenRequestContext,
} from './tokens/index.js';

// Calls the agent places, one at a time or as paced campaigns.
export {
  dialOutcome,
  liveKitDialer,
  OUTBOUND_RESULTS,
  OutboundOptionsSchema,
  type OutboundCallRequest,
  type OutboundDialer,
  type OutboundOptions,
  type OutboundOutcome,
  type OutboundResult,
  type PlacedCall,
} from './outbound/index.js';
export {
  CampaignStore,
  campaignStatus,
  parseCampaignPolicy,
  readCampaignList,
  readDoNotCallList,
  runCampaign,
  type CampaignList,
  type CampaignPolicy,
  type CampaignRunResult,
} from './campaigns/index.js';

// Configuration (from the environment) and errors.
export { loadConfig, type Config } from './config/index.js';
export { isSwitchboardError, SwitchboardError, type SwitchboardErrorCode } from './errors/index.js';
