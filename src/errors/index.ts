export {
  SwitchboardError,
  isSwitchboardError,
  type SwitchboardErrorCode,
} from './switchboard-error.js';
