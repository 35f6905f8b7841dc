export {
  CallOptionsSchema,
  callOptionsIssues,
  parseCallOptions,
  resolveCallOptions,
  type CallOptions,
  type CallOptionsIssue,
  type CallOptionsResult,
  type ResolvedCallOptions,
} from './call-options.js';
