export {
  Admission,
  FRAMEWORK_ASSIGNMENT_WAIT_MS,
  launchDeadlineMs,
  type AdmissionDecision,
  type UnlaunchedJob,
} from './admission.js';
export {
  answerBusyUnlessTaken,
  livekitCallRoomProbe,
  type BusyGuardOutcome,
  type CallRoomProbe,
} from './busy-guard.js';
export {
  deriveCapacity,
  machineResources,
  MEASURED_CALL_COST,
  parseMemoryLimit,
  resolveCapacity,
  type CallCapacity,
  type CallCostProfile,
  type CapacityLimit,
  type MachineResources,
} from './capacity.js';
export { callerChannel, livekitRoomParticipants, type RoomParticipants } from './caller-channel.js';
export {
  connectionFromFrameworkHealth,
  healthResponse,
  nextPhase,
  readFrameworkConnection,
  startHealthServer,
  type LivekitConnection,
  type PhaseEvent,
  type WorkerHealth,
  type WorkerPhase,
} from './health.js';
export {
  announceLoad,
  DevCallCapacity,
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
export {
  ORPHAN_POLL_MS,
  recoverOrphanedCalls,
  startOrphanRecovery,
  type OrphanedCall,
  type OrphanedCallPorts,
} from './orphaned-calls.js';
export {
  parseProcStat,
  processAlive,
  processStartTicks,
  processTree,
  readProcessTree,
  type ProcessStat,
} from './process-tree.js';
export {
  INITIALIZE_PROCESS_TIMEOUT_MS,
  parseStartArgs,
  runProductionWorker,
  unlaunchedJobProbe,
} from './production-worker.js';
export {
  DEFAULT_JOB_MALLOC_ARENAS,
  DEFAULT_JOB_SEMI_SPACE_MB,
  limitJobProcessMemory,
  type JobProcessMemory,
} from './job-process-memory.js';
export {
  holdSpareProcesses,
  installSpareProcessGate,
  MAX_SPARE_PROCESS_HOLD_MS,
  spareProcessHold,
  spareProcessWaitMs,
} from './spare-process-hold.js';
