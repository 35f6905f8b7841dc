import { parseArgs } from 'node:util';
import {
  AgentServer,
  initializeLogger,
  log,
  ServerOptions,
  type JobRequest,
} from '@livekit/agents';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { createRecordSink, startRecordRetention } from '../call-records/index.js';
import { isAgent } from '../caller/index.js';
import { inheritedEnvironment, type Config } from '../config/index.js';
import { SwitchboardError } from '../errors/index.js';
import { Admission, launchDeadlineMs, type UnlaunchedJob } from './admission.js';
import { answerBusyUnlessTaken, livekitCallRoomProbe, type CallRoomProbe } from './busy-guard.js';
import { callerChannel, livekitRoomParticipants, type RoomParticipants } from './caller-channel.js';
import {
  nextPhase,
  readFrameworkConnection,
  startHealthServer,
  type PhaseEvent,
  type WorkerPhase,
} from './health.js';
import { limitJobProcessMemory } from './job-process-memory.js';
import { announceLoad, reportedLoad, WorkerLoadMonitor, type CpuSample } from './load.js';
import { redactFrameworkLogs } from './log-redaction.js';
import { startOrphanRecovery } from './orphaned-calls.js';
import { readProcessTree } from './process-tree.js';
import { spareProcessHold } from './spare-process-hold.js';
import { livekitStrandedCallPort, StrandedCallSweeps } from './stranded-calls.js';

/** The agents framework's production port for its own HTTP server (GET /, GET /worker). */
const FRAMEWORK_PRODUCTION_PORT = 8081;
const DRAIN_POLL_MS = 500;
const FORCED_EXIT_HANGUP_MS = 1_000;
/** Prewarm (VAD, greetings) on a busy 2-core host took longer than the framework's 10 s. Unit: ms. */
export const INITIALIZE_PROCESS_TIMEOUT_MS = 45_000;
const IDLE_KILL_POLL_MS = 200;
/**
 * How long an offered call waits for its caller to show in the room before it is decided as a
 * phone call (never refused for the browsers' share). Well inside the server's assignment wait.
 */
const CALLER_LOOKUP_MS = 1_500;
/**
 * How often accepted jobs are checked for having started, or run out of time to. Often enough that
 * a call is seen running before it could end (a seat then counts as running, not reserved).
 */
const SETTLE_POLL_MS = 1_000;
/** How long GET /health waits for the framework's own health check (loopback). */
const FRAMEWORK_HEALTH_TIMEOUT_MS = 1_000;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/**
 * `start` arguments: the agents CLI's own `--log-level`, nothing else. URL and keys come from the
 * environment (src/config).
 */
export function parseStartArgs(
  args: readonly string[],
  defaultLevel: Config['worker']['logLevel'],
): { logLevel: Config['worker']['logLevel'] } {
  let values: { 'log-level'?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { 'log-level': { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    throw new SwitchboardError(
      'config_invalid',
      `Invalid arguments for start (${(err as Error).message}). Usage: start [--log-level ${LOG_LEVELS.join('|')}]`,
    );
  }
  const level = values['log-level'] ?? defaultLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new SwitchboardError(
      'config_invalid',
      `Invalid --log-level "${level}". Use one of ${LOG_LEVELS.join(', ')}.`,
    );
  return { logLevel: level as Config['worker']['logLevel'] };
}

async function sampleOwnCpu(): Promise<CpuSample> {
  const tree = await readProcessTree(process.pid);
  if (tree.length === 0) {
    // No /proc (macOS): this process only.
    const { user, system } = process.cpuUsage();
    return { atMs: Date.now(), cpuMsByPid: new Map([[process.pid, (user + system) / 1000]]) };
  }
  return { atMs: Date.now(), cpuMsByPid: new Map(tree.map((p) => [p.pid, p.cpuMs])) };
}

/**
 * The busy probe for a call this worker accepted and did not start. livekit-server (v1.13.5,
 * pkg/rtc/room.go handleNewJobs) lists every job a worker accepted in the room's dispatch, this
 * worker's stuck job included, so the declined-call probe (livekitCallRoomProbe) would read it as
 * another worker's and leave the caller ringing. Here the call is taken only by another job of the
 * dispatch, or by an agent already in the room (this worker's own job, had it started after all).
 */
export function unlaunchedJobProbe(
  livekit: { url: string; apiKey: string; apiSecret: string },
  participants: RoomParticipants,
): (ownJobId: string) => CallRoomProbe {
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const dispatches = new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return (ownJobId) => ({
    agentTookRoom: async (room, agentName) => {
      if ((await rooms.listRooms([room])).length === 0) return undefined;
      const otherJobs = (await dispatches.listDispatch(room))
        .filter((d) => d.agentName === agentName)
        .flatMap((d) => d.state?.jobs ?? [])
        .filter((j) => j.id !== ownJobId);
      if (otherJobs.length > 0) return true;
      return (await participants.list(room)).some((p) => isAgent(p, agentName));
    },
    deleteRoom: async (room) => {
      await rooms.deleteRoom(room);
    },
  });
}

/**
 * The production worker (`npm run agent start`): the agents framework's AgentServer in production
 * mode, with what this package adds around it:
 *
 * - capacity: at most `maxConcurrentCalls` calls (AGENT_MAX_CALLS, else what the machine fits:
 *   src/worker/capacity.ts), of which browser calls take at most
 *   `maxConcurrentCalls - phoneReservedCalls` (AGENT_PHONE_RESERVED_CALLS), and no new call while
 *   its own processes use more than AGENT_MAX_CPU_PERCENT of the machine; a declined call goes to
 *   another worker, or its caller gets 486 Busy Here, a browser is disconnected
 *   (src/worker/busy-guard.ts); an accepted call holds its seat until its job runs, and one whose
 *   job has not started by its launch deadline (src/worker/admission.ts) is answered busy too;
 * - drain: on SIGTERM or SIGINT it declines new calls and waits for the calls in progress, up to
 *   AGENT_DRAIN_TIMEOUT_MS, then ends the rest and exits 0; a second signal hangs up the calls
 *   still in progress, kills its job processes and exits at once (143 or 130);
 * - health: GET /health on AGENT_HEALTH_PORT reports starting, ready, disconnected (from LiveKit,
 *   until registered again) or draining.
 *
 * The framework's own drain is not used: it marks the worker full, so livekit-server stops asking
 * it, and nobody would answer a caller busy when no other worker is left.
 */
export async function runProductionWorker(opts: {
  agentFile: string;
  /** The name the worker registers under (explicit dispatch). */
  agentName: string;
  config: Readonly<Config>;
  logLevel: Config['worker']['logLevel'];
}): Promise<void> {
  const { config } = opts;
  initializeLogger({ pretty: false, level: opts.logLevel });
  const redacted = redactFrameworkLogs();
  const logger = log().child({ agentName: opts.agentName });
  if (!redacted) logger.warn('could not redact phone numbers in the logs of this worker');
  // One pruner per worker, not per job process: the job processes only append.
  const retention = startRecordRetention(config.records, {
    onPruned: (files) => logger.info({ files }, 'removed call record files past their retention'),
    onError: (err) => logger.warn({ err }, 'removing old call record files failed'),
  });

  // Calls whose job process died: hung up and recorded from their checkpoints.
  const orphans = startOrphanRecovery({
    recordsDir: config.records.dir,
    records: createRecordSink(config.records),
    livekit: config.livekit,
    onRecovered: (call) =>
      logger.warn({ ...call }, 'a job process died during its call; hung up and recorded'),
    onError: (err) => logger.warn({ err }, 'could not recover the calls of dead job processes'),
  });

  const { capacity } = config;
  const { machine, profile } = capacity.inputs;
  logger.info(
    {
      maxCalls: capacity.maxCalls,
      limitedBy: capacity.limitedBy,
      cores: machine.cores,
      memoryMiB: machine.memoryMiB,
      cpuPerCall: profile.cpuPerCall,
      memoryPerCallMiB: profile.memoryPerCallMiB,
    },
    'call capacity of this worker',
  );

  const maxCpuShare = config.worker.maxCpuPercent / 100;
  const monitor = new WorkerLoadMonitor({
    maxCalls: config.maxConcurrentCalls,
    maxCpuShare,
    // The cores the call limit was sized for: the container's CPU quota where there is one, not
    // the host's CPU count (src/worker/cpu-quota.ts).
    cores: machine.cores,
    sampleCpu: sampleOwnCpu,
  });
  const admission = new Admission({
    maxCalls: config.maxConcurrentCalls,
    phoneReservedCalls: config.phoneReservedCalls,
    cpuUsage: () => monitor.cpuShare / maxCpuShare,
    launchDeadlineMs: launchDeadlineMs(INITIALIZE_PROCESS_TIMEOUT_MS),
  });
  const probe = livekitCallRoomProbe(config.livekit);
  const participants = livekitRoomParticipants(config.livekit);
  const probeIgnoring = unlaunchedJobProbe(config.livekit, participants);
  /** Busy answers in progress, awaited at drain. */
  const guards = new Set<Promise<void>>();
  let phase: WorkerPhase = 'starting';
  let registrations = 0;
  const movePhase = (event: PhaseEvent) => {
    const next = nextPhase(phase, event);
    if (next === phase) return;
    if (next === 'disconnected')
      logger.warn('lost the connection to LiveKit; not ready until registered again');
    else logger.info({ from: phase, phase: next }, 'worker phase changed');
    phase = next;
  };

  const runningJobIds = () => new Set(server.activeJobs.map((j) => j.job.id));

  /** The offered call's channel from its caller (src/caller); undefined: not known in time. */
  const channelOf = async (req: JobRequest) => {
    const room = req.room?.name;
    if (room === undefined || room === '') return undefined;
    try {
      return await callerChannel({ room, participants, timeoutMs: CALLER_LOOKUP_MS });
    } catch (err) {
      logger.warn({ err, jobId: req.id }, 'could not look up the caller of an offered call');
      return undefined;
    }
  };

  /**
   * Answers the caller in `room` busy unless a job took the call (src/worker/busy-guard.ts), as a
   * task owned until it settles and awaited at drain.
   */
  const answerBusy = (
    call: { jobId: string; room: string; why: 'declined' | 'not_launched' },
    callProbe: CallRoomProbe,
  ) => {
    const { jobId, why } = call;
    const guard = answerBusyUnlessTaken({
      room: call.room,
      agentName: opts.agentName,
      probe: callProbe,
      graceMs: config.worker.busyGraceMs,
    })
      .then((outcome) => logger.info({ jobId, why, outcome }, 'call not taken here settled'))
      .catch((err: unknown) => logger.error({ err, jobId, why }, 'could not end a call not taken'))
      .finally(() => guards.delete(guard));
    guards.add(guard);
  };

  /** Accepted jobs that will not run here: their callers are answered busy, not left ringing. */
  const answerUnlaunched = (jobs: readonly UnlaunchedJob[]) => {
    for (const job of jobs) {
      logger.warn(
        { jobId: job.jobId, waitedMs: Date.now() - job.acceptedAtMs },
        'an accepted call did not start; answering its caller busy',
      );
      if (job.room === undefined || job.room === '') continue;
      answerBusy(
        { jobId: job.jobId, room: job.room, why: 'not_launched' },
        probeIgnoring(job.jobId),
      );
    }
  };

  limitJobProcessMemory(config.jobMemory, process.execArgv, inheritedEnvironment());
  const callAccepted = spareProcessHold(config.spareProcessHoldMs);
  const requestFunc = async (req: JobRequest): Promise<void> => {
    const channel = await channelOf(req);
    if (channel === undefined)
      logger.warn({ jobId: req.id }, 'no caller in the room yet; deciding as a phone call');
    const room = req.room?.name;
    const decision = admission.decide(
      req.id,
      runningJobIds(),
      Date.now(),
      channel ?? 'phone',
      room,
    );
    if (decision.accept) {
      callAccepted();
      // Resolves at once in @livekit/agents 1.9.0 (job.js: the launch is not awaited): the seat
      // stays reserved until the job runs or its launch deadline passes (settleTimer).
      await req.accept();
      return;
    }
    logger.info({ jobId: req.id, reason: decision.reason, channel }, 'declining a call');
    await req.reject();
    if (room === undefined || room === '') return;
    answerBusy({ jobId: req.id, room, why: 'declined' }, probe);
  };

  const serverOptions = new ServerOptions({
    agent: opts.agentFile,
    agentName: opts.agentName,
    wsURL: config.livekit.url,
    apiKey: config.livekit.apiKey,
    apiSecret: config.livekit.apiSecret,
    ...(config.worker.workerToken === undefined ? {} : { workerToken: config.worker.workerToken }),
    production: true,
    logLevel: opts.logLevel,
    numIdleProcesses: config.idleProcesses,
    // The receptionist's prewarm renders three prompts with 10 s timeouts each; the framework's
    // 10 s default failed jobs whose process was still prewarming on a busy 2-core host.
    initializeProcessTimeout: INITIALIZE_PROCESS_TIMEOUT_MS,
    requestFunc,
    // A draining worker reports itself full, so the server asks the other workers first.
    loadFunc: async (s) => {
      const usage = await monitor.update(s.activeJobs.length);
      return reportedLoad(admission.isDraining ? 1 : usage);
    },
    // Reported loads stay below 1 (see reportedLoad): admission, not the status, limits calls.
    loadThreshold: 1,
    host: config.agentHttp.host,
    port: config.agentHttp.port ?? FRAMEWORK_PRODUCTION_PORT,
  });
  const server = new AgentServer(serverOptions);
  // Emitted on every registration, the first and each after a reconnection (worker.js #runWS).
  server.event.on('worker_registered', () => {
    registrations++;
    movePhase({ type: 'registered' });
    strandedSweeps.restart();
  });

  const health = await startHealthServer({
    host: config.agentHttp.host,
    port: config.worker.healthPort,
    health: async () => {
      // Only a ready worker can lose its connection; the framework's check is asked on each probe,
      // so the answer is as fresh as the probe.
      if (phase === 'ready') {
        const registrationsBefore = registrations;
        const connection = await readFrameworkConnection({
          host: serverOptions.host,
          port: serverOptions.port,
          timeoutMs: FRAMEWORK_HEALTH_TIMEOUT_MS,
        });
        // A registration while the framework was asked makes its answer stale: a lost connection
        // read just before it would hold the worker out of service until the next one.
        if (registrations === registrationsBefore) movePhase({ type: 'connection', connection });
      }
      const activeCalls = server.activeJobs.length;
      return {
        phase,
        activeCalls,
        maxCalls: config.maxConcurrentCalls,
        limitedBy: capacity.limitedBy,
        usage: monitor.usage(activeCalls),
      };
    },
  });

  // Calls that arrived while no worker was registered get their agent (src/worker/stranded-calls.ts).
  const strandedSweeps = new StrandedCallSweeps({
    port: livekitStrandedCallPort(config.livekit),
    agentName: opts.agentName,
    onRedispatched: (rooms) =>
      logger.warn({ calls: rooms.length }, 'dispatched the agent again to calls nobody took'),
    // The room name is the only context: it may hold the caller's number (livekit-sip's
    // individual rooms), so it goes under the PII key.
    onError: (err, room) =>
      logger.warn(
        { err, ...(room === undefined ? {} : { 'lk.pii.room_name': room }) },
        'could not look for calls nobody took',
      ),
  });

  // A reserved job's start is seen here; one past its launch deadline is answered busy.
  const settleTimer = setInterval(
    () => answerUnlaunched(admission.settle(runningJobIds(), Date.now())),
    SETTLE_POLL_MS,
  );

  /** Every process below the worker (job processes, and what they started), by pid. */
  const killOwnProcesses = async (): Promise<void> => {
    for (const p of await readProcessTree(process.pid)) {
      if (p.pid === process.pid) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  const drain = async (signal: NodeJS.Signals): Promise<void> => {
    admission.startDraining();
    announceLoad(server, reportedLoad(1));
    movePhase({ type: 'draining' });
    const started = Date.now();
    logger.info(
      {
        signal,
        activeCalls: server.activeJobs.length,
        drainTimeoutMs: config.worker.drainTimeoutMs,
      },
      'draining: finishing calls in progress, taking no new ones (a second signal exits at once)',
    );
    // Jobs accepted just before the signal are not running yet; they are waited for too.
    const busy = () =>
      server.activeJobs.length > 0 || admission.pendingCount(runningJobIds(), Date.now()) > 0;
    while (busy() && Date.now() - started < config.worker.drainTimeoutMs) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    if (busy())
      logger.warn(
        { activeCalls: server.activeJobs.length },
        'drain timed out; ending the calls still in progress',
      );
    clearInterval(settleTimer);
    await strandedSweeps.stop();
    // Accepted calls still not started will not start now: their callers are answered busy.
    answerUnlaunched(admission.abandonPending(runningJobIds()));
    await Promise.allSettled([...guards]);
    const closing = server.close();
    if (!busy()) {
      // With no call left, the processes below the worker are idle job processes (and the
      // inference process). The framework asks each to shut down, and one that was still
      // prewarming never acknowledges: it waits its full 60 s process shutdown timeout (measured:
      // 60 s from SIGTERM to exit on an idle worker). They hold nothing, so they are ended
      // directly, until the pool is closed: one killed before that is replaced by a new one.
      const pool = { closed: false };
      const markClosed = () => {
        pool.closed = true;
      };
      closing.then(markClosed, markClosed);
      while (!pool.closed) {
        await killOwnProcesses();
        await Promise.race([closing, new Promise((r) => setTimeout(r, IDLE_KILL_POLL_MS))]);
      }
    }
    await closing;
    await retention.stop();
    await orphans.stop();
    await new Promise((r) => health.close(r));
    logger.info({ drainMs: Date.now() - started }, 'drained; exiting');
    process.exit(0);
  };

  const exitNow = async (signal: NodeJS.Signals): Promise<void> => {
    logger.warn({ signal }, 'second signal: ending every call and exiting now');
    // Hang the callers up (their rooms deleted: livekit-sip sends BYE) rather than leave them on a
    // line with nobody on it; bounded, since exiting now is the point.
    clearInterval(settleTimer);
    // Calls accepted and not started yet too: nobody would answer them now.
    const unstarted = admission.abandonPending(runningJobIds()).map((j) => j.room ?? '');
    const rooms = [...server.activeJobs.map((j) => j.job.room?.name ?? ''), ...unstarted].filter(
      (r) => r !== '',
    );
    await Promise.race([
      Promise.allSettled(rooms.map((room) => probe.deleteRoom(room))),
      new Promise((r) => setTimeout(r, FORCED_EXIT_HANGUP_MS)),
    ]);
    await killOwnProcesses();
    // The killed jobs' records, from their checkpoints (bounded: a next start finds the rest).
    await Promise.race([
      orphans.stop(true),
      new Promise((r) => setTimeout(r, FORCED_EXIT_HANGUP_MS)),
    ]);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    const task = admission.isDraining ? exitNow(signal) : drain(signal);
    task.catch((err: unknown) => {
      logger.error({ err }, 'failed to shut down cleanly');
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await server.run();
  } catch (err) {
    logger.fatal({ err }, 'the worker stopped with an error');
    process.exit(1);
  }
}
