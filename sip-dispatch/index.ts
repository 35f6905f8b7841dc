export { applyPlan, plan, readCurrent } from './apply.js';
export { loadSipConfig } from './load.js';
export { planSipConfig, MANAGED_METADATA, type Plan } from './plan.js';
export { SipConfigSpec, validateSipConfig } from './schema.js';
