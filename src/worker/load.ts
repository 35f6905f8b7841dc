import type { AgentServer } from '@livekit/agents';
import { WorkerMessage, WorkerStatus } from '@livekit/protocol';

/**
 * The development worker's capacity (`npm run agent dev`): calls up to `maxCalls`, decided when
 * a call is offered, with the load reported to LiveKit scaled under the server's target as the
 * production worker does (see reportedLoad).
 *
 * Reported unscaled, the share of calls in use made livekit-server stop offering calls at 0.7 of
 * `maxCalls` (its target load), without a word to anyone: a call it offers to no worker is never
 * offered again, so a caller rang out and a placed call waited for an agent until its room
 * expired (seen in the campaign test: a rerun after a crash, with the crashed run's calls still
 * up, lost two rows).
 *
 * The production worker (`npm run agent start`) uses `WorkerLoadMonitor` and src/worker/admission.ts,
 * which also weigh its CPU and answer a declined caller busy.
 */
export class DevCallCapacity {
  /** Calls running at the last load update. */
  private running = 0;
  /** Calls taken since then, not yet counted in `running` (their jobs may still be starting). */
  private takenSince = 0;

  constructor(private readonly maxCalls: number) {}

  /** The framework's `loadFunc`: called every 2.5 s. */
  readonly load = (server: Pick<AgentServer, 'activeJobs'>): Promise<number> => {
    this.running = server.activeJobs.length;
    this.takenSince = 0;
    return Promise.resolve(reportedLoad(this.running / this.maxCalls));
  };

  /** Whether one more call fits; a call that fits is counted from now on. */
  take(): boolean {
    if (this.running + this.takenSince >= this.maxCalls) return false;
    this.takenSince++;
    return true;
  }
}

/** CPU time used so far by each of the worker's processes, at one moment. */
export interface CpuSample {
  atMs: number;
  cpuMsByPid: ReadonlyMap<number, number>;
}

/**
 * Share of the machine's cores (0..1) the worker's processes used between two samples. A process
 * that appeared in between counts with all its CPU time (it started in that interval); one that
 * ended in between is not counted for its last interval.
 */
export function cpuShareBetween(prev: CpuSample, next: CpuSample, cores: number): number {
  const elapsedMs = next.atMs - prev.atMs;
  if (elapsedMs <= 0 || cores <= 0) return 0;
  let usedMs = 0;
  for (const [pid, cpuMs] of next.cpuMsByPid) {
    const before = prev.cpuMsByPid.get(pid) ?? 0;
    // Lower than before: the pid was reused by a new process, whose time all falls in the interval.
    usedMs += cpuMs >= before ? cpuMs - before : cpuMs;
  }
  return Math.min(1, usedMs / (elapsedMs * cores));
}

/**
 * How full the worker is: 1 means at its limit, by calls or by its own CPU, whichever is nearer.
 */
export function capacityUsage(u: {
  activeCalls: number;
  maxCalls: number;
  cpuShare: number;
  maxCpuShare: number;
}): number {
  return Math.max(u.activeCalls / u.maxCalls, u.cpuShare / u.maxCpuShare);
}

/**
 * livekit-server's default `agents.target_load`: it asks a worker for a job only while the
 * worker's reported load is below this. Reported loads stay under it so that a full worker is
 * still asked, declines, and makes sure the caller hears busy when no other worker takes the call
 * (src/worker/busy-guard.ts); a worker the server never asks cannot do that, and the caller would
 * ring until livekit-sip's ringing timeout.
 */
export const SERVER_TARGET_LOAD = 0.7;
const REPORTED_LOAD_CEILING = SERVER_TARGET_LOAD - 0.01;

/**
 * The load sent to livekit-server: usage scaled under its target. The server picks among
 * workers at random, weighted by 1 - load, so a less used worker is still preferred, and a
 * declined job is offered to the next worker.
 */
export function reportedLoad(usage: number): number {
  return Math.min(1, Math.max(0, usage)) * REPORTED_LOAD_CEILING;
}

/**
 * Sends `load` to livekit-server now rather than at the framework's next status update (every
 * 2.5 s). The status stays available: see SERVER_TARGET_LOAD for why a worker is never reported
 * full.
 *
 * Needed when the load jumps, as when draining starts. With several livekit-server nodes a job
 * goes to the node whose workers report the most headroom (the sum of target load minus load
 * over its available workers), and a node whose workers all decline does not pass the job on to
 * another node. A draining worker still known by its last, low load draws jobs to its node,
 * declines them, and their callers hear busy while a worker on the other node has seats (seen
 * in this project's rolling-restart test on two nodes).
 */
export function announceLoad(server: Pick<AgentServer, 'event'>, load: number): void {
  const message = new WorkerMessage({
    message: { case: 'updateWorker', value: { load, status: WorkerStatus.WS_AVAILABLE } },
  });
  // The framework's connection sends every `worker_msg` (worker.js #runWS); with no connection
  // (between registrations) nothing listens, and the next registration sends the status anew.
  (server.event as unknown as NodeJS.EventEmitter).emit('worker_msg', message);
}

/**
 * Measures the worker's own CPU between two calls of `update` (the framework calls its load
 * function every 2.5 s), and keeps the latest usage for admission decisions between updates.
 */
export class WorkerLoadMonitor {
  private last?: CpuSample;
  private cpuShareNow = 0;

  constructor(
    private readonly opts: {
      maxCalls: number;
      maxCpuShare: number;
      cores: number;
      sampleCpu: () => Promise<CpuSample>;
    },
  ) {}

  /** Takes a CPU sample and returns the usage with `activeCalls` calls. */
  async update(activeCalls: number): Promise<number> {
    const sample = await this.opts.sampleCpu();
    if (this.last !== undefined)
      this.cpuShareNow = cpuShareBetween(this.last, sample, this.opts.cores);
    this.last = sample;
    return this.usage(activeCalls);
  }

  /** Usage with `activeCalls` calls and the CPU share last measured. */
  usage(activeCalls: number): number {
    return capacityUsage({
      activeCalls,
      maxCalls: this.opts.maxCalls,
      cpuShare: this.cpuShareNow,
      maxCpuShare: this.opts.maxCpuShare,
    });
  }

  get cpuShare(): number {
    return this.cpuShareNow;
  }
}
