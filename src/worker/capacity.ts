import { availableParallelism, totalmem } from 'node:os';
import { effectiveCpus, readOrUndefined } from './cpu-quota.js';

/**
 * How many calls a worker takes at once when AGENT_MAX_CALLS is not set: what the machine it runs
 * on fits, by CPU and by memory, at what one call was measured to cost.
 *
 *   cpu term     floor(cores × (1 − cpuHeadroomFraction) / cpuPerCall)
 *   memory term  floor((memoryMiB − idleMemoryMiB) / memoryPerCallMiB)
 *   maxCalls     max(1, min(cpu term, memory term))
 *
 * docs/production.md "Capacity" gives the formula with its figures and how to measure your own.
 */

/** What calls cost the worker's process tree (the worker, its inference and job processes). */
export interface CallCostProfile {
  /** Share of one core one call keeps busy: 0.32 is 32 % of a core. */
  cpuPerCall: number;
  /** Unit: MiB. Memory (PSS) each call adds to the worker's process tree. */
  memoryPerCallMiB: number;
  /** Unit: MiB. Memory (PSS) of the worker's process tree with no call. */
  idleMemoryMiB: number;
  /** Share of the cores no call is counted on: the worker, the inference process, bursts. */
  cpuHeadroomFraction: number;
}

/**
 * bench/RESULTS.md "Density, cheaper calls": `npm run bench:density -- --max-calls 5
 * --window-s 36`, 2026-11-30 (after commit 250b105), the production receptionist on this
 * project's 2-core test machine, at the two calls it held: 22 % of a core and 138 MiB PSS per
 * call, 511 MiB PSS for the idle worker tree.
 *
 * Measured with the offline models, and only the worker's process tree: the recognition and speech
 * synthesis ran in the stack's speech server on the same two cores, outside these figures (that
 * run held two calls within its quality limits, not the seven these figures give for two cores). With
 * OpenAI's models that work is off the machine altogether, and the job processes handle other
 * audio: the cost per call differs, so AGENT_CPU_PER_CALL and AGENT_MEMORY_PER_CALL_MB replace
 * these figures with ones measured there.
 *
 * The headroom is not measured: it leaves the same fifth of the cores that AGENT_MAX_CPU_PERCENT's
 * default (80) does, so at the measured cost the call limit and the CPU limit are reached together.
 */
export const MEASURED_CALL_COST: Readonly<CallCostProfile> = Object.freeze({
  cpuPerCall: 0.22,
  memoryPerCallMiB: 138,
  idleMemoryMiB: 511,
  cpuHeadroomFraction: 0.2,
});

/** What the worker may use of the machine it runs on. */
export interface MachineResources {
  /** CPUs, fractional under a CPU quota (1.5). */
  cores: number;
  /** Unit: MiB. */
  memoryMiB: number;
}

/** Which term gave the fewest calls; `configured`: AGENT_MAX_CALLS was set, nothing was derived. */
export type CapacityLimit = 'cpu' | 'memory' | 'configured';

export interface CallCapacity<L extends CapacityLimit = CapacityLimit> {
  maxCalls: number;
  limitedBy: L;
  inputs: { machine: MachineResources; profile: CallCostProfile };
}

/**
 * A quotient that is whole in decimals can come out a hair under it in binary (0.7 / 0.1 is
 * 6.999…), and flooring that would lose a call.
 */
const WHOLE_EPSILON = 1e-9;

/** The calls `machine` fits at `profile`'s cost: the smaller of the CPU and memory terms, at least 1. */
export function deriveCapacity(
  machine: MachineResources,
  profile: CallCostProfile = MEASURED_CALL_COST,
): CallCapacity<'cpu' | 'memory'> {
  const cpuCalls = Math.floor(
    (machine.cores * (1 - profile.cpuHeadroomFraction)) / profile.cpuPerCall + WHOLE_EPSILON,
  );
  const memoryCalls = Math.floor(
    (machine.memoryMiB - profile.idleMemoryMiB) / profile.memoryPerCallMiB + WHOLE_EPSILON,
  );
  return {
    // One call even where the figures say none: a worker that takes nothing is no use, and the
    // CPU admission (AGENT_MAX_CPU_PERCENT) still declines calls the machine cannot carry.
    maxCalls: Math.max(1, Math.min(cpuCalls, memoryCalls)),
    limitedBy: cpuCalls <= memoryCalls ? 'cpu' : 'memory',
    inputs: { machine, profile },
  };
}

/** AGENT_MAX_CALLS when it is set, else what the machine fits. */
export function resolveCapacity(
  configuredMaxCalls: number | undefined,
  machine: MachineResources,
  profile: CallCostProfile = MEASURED_CALL_COST,
): CallCapacity {
  if (configuredMaxCalls === undefined) return deriveCapacity(machine, profile);
  return { maxCalls: configuredMaxCalls, limitedBy: 'configured', inputs: { machine, profile } };
}

const BYTES_PER_MIB = 1024 * 1024;

/**
 * A cgroup memory limit in bytes: v2 `memory.max` ("max" for none) or v1
 * `memory.limit_in_bytes` (no limit reads as a number near 2^63, above any machine's memory).
 */
export function parseMemoryLimit(text: string | undefined): number | undefined {
  const value = (text ?? '').trim();
  if (!/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes > 0 ? bytes : undefined;
}

/**
 * Memory this process may use, in MiB: the machine's, capped by the container's memory limit
 * (cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`). A limit above the machine's memory
 * does not raise it.
 */
export function effectiveMemoryMiB(
  read: (path: string) => string | undefined = readOrUndefined,
  totalMemoryBytes: number = totalmem(),
): number {
  const limit =
    parseMemoryLimit(read('/sys/fs/cgroup/memory.max')) ??
    parseMemoryLimit(read('/sys/fs/cgroup/memory/memory.limit_in_bytes'));
  return Math.floor(Math.min(totalMemoryBytes, limit ?? Infinity) / BYTES_PER_MIB);
}

/** The cores and memory of the machine this process runs on, as its cgroup limits them. */
export function machineResources(
  read: (path: string) => string | undefined = readOrUndefined,
  host: { parallelism: number; totalMemoryBytes: number } = {
    parallelism: availableParallelism(),
    totalMemoryBytes: totalmem(),
  },
): MachineResources {
  return {
    cores: effectiveCpus(read, host.parallelism),
    memoryMiB: effectiveMemoryMiB(read, host.totalMemoryBytes),
  };
}
