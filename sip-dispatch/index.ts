export { applyPlan, ApplyError, type AppliedChange, type ApplyScope } from './apply.js';
export { DEFAULT_CONFIG, DEFAULT_ENV, EXIT, runSipCommand, type CliDeps } from './cli.js';
export { SipDispatchError, type SipDispatchErrorCode } from './errors.js';
export { exportSipConfig } from './export.js';
export { checkSipConfigText, loadSipConfig, type CheckOptions, type LoadedConfig } from './load.js';
export { LivekitSipApi, type LivekitConnection } from './livekit-sip-api.js';
export * from './model.js';
export {
  destructiveReason,
  planHasChanges,
  planSipConfig,
  type Change,
  type FieldChange,
  type Plan,
} from './plan.js';
export { addressProblem } from './addresses.js';
export type { Problem } from './problems.js';
export type { SipApi } from './sip-api.js';
export { SipConfig } from './schema.js';
export { normalizeNumber, validateSipConfig } from './validate.js';
