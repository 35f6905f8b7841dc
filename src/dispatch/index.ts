export {
  CallOptionsSchema,
  parseCallOptions,
  type CallOptions,
  type CallOptionsResult,
} from './call-options.js';
