export { Admission, type AdmissionDecision } from './admission.js';
export {
  answerBusyUnlessTaken,
  livekitCallRoomProbe,
  type BusyGuardOutcome,
  type CallRoomProbe,
} from './busy-guard.js';
export {
  callerChannel,
  livekitRoomParticipants,
  snapshotOf,
  type RoomParticipants,
} from './caller-channel.js';
export {
  healthResponse,
  startHealthServer,
  type WorkerHealth,
  type WorkerPhase,
} from './health.js';
export {
  callCountLoad,
  capacityUsage,
  cpuShareBetween,
  reportedLoad,
  SERVER_TARGET_LOAD,
  WorkerLoadMonitor,
  type CpuSample,
} from './load.js';
export {
  PII_KEY_PREFIX,
  redactFrameworkLogs,
  redactLogger,
  redactLogLine,
  redactPhoneNumbers,
} from './log-redaction.js';
export { parseProcStat, processTree, readProcessTree, type ProcessStat } from './process-tree.js';
export {
  INITIALIZE_PROCESS_TIMEOUT_MS,
  parseStartArgs,
  runProductionWorker,
} from './production-worker.js';
