export type { OutboundCallRequest, OutboundDialer, PlacedCall } from './dialer.js';
export { liveKitDialer } from './livekit-dialer.js';
export {
  AnsweringMachineOptionsSchema,
  OutboundOptionsSchema,
  type OutboundOptions,
  type OutboundOptionsInput,
} from './options.js';
export {
  dialOutcome,
  OUTBOUND_RESULTS,
  type OutboundOutcome,
  type OutboundResult,
} from './outcome.js';
export { OUTCOME_METADATA_KEY, outcomeIn } from './outcome-report.js';
