export {
  brandCall,
  callOf,
  type Annotation,
  type Call,
  type CollectDigitsRequest,
  type CollectDigitsResult,
} from './call.js';
export {
  validateAgentDefinition,
  greetingText,
  type CallAgentDefinition,
  type CallModels,
  type CallTools,
  type Greeting,
  toolsFor,
} from './definition.js';
export {
  defineCallAgent,
  registeredName,
  runAgentWorker,
  type CallAgent,
} from './define-call-agent.js';
export { recordSession, type RecordedSession } from './session-record.js';
export { SilenceWatch, type SilenceWatchInput } from './silence-watch.js';
export { guardTools, TOOL_FAILURE_MESSAGE } from './tool-guard.js';
