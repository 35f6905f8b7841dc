export {
  CallOptionsSchema,
  parseCallOptions,
  resolveCallOptions,
  type CallOptions,
  type CallOptionsResult,
  type ResolvedCallOptions,
} from './call-options.js';
