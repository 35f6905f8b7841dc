export {
  ENV_FILE,
  ENV_VARIABLES,
  inheritedEnvironment,
  loadConfig,
  parseConfig,
  type Config,
  type LivekitConfig,
  type ModelProvider,
  type RecordsConfig,
  type WebCallbackConfig,
  type WebEntranceConfig,
  type WorkerConfig,
} from './env.js';
export {
  LOCAL_API_KEY,
  LOCAL_API_SECRET,
  localLivekitUrl,
  localSpeechUrl,
  localStackLayout,
  type LocalStackLayout,
  type NetworkMode,
} from './local-stack.js';
