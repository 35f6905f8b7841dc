/**
 * How much memory the processes the worker forks (its job processes and the framework's
 * inference process) keep that a call never uses. Two settings, both measured with
 * `npm run bench:density` (bench/RESULTS.md "Memory per call"):
 *
 * - V8's young generation. A call allocates fast and keeps little (an audio frame every 32 ms in,
 *   the reply's audio out, each through a chain of stream stages), and under that V8 grows each
 *   of the young generation's two semi-spaces to its 16 MiB ceiling on 64-bit: a job process's
 *   V8 heap went from 42 MiB idle to 77 MiB in a call. Capped at 2 MiB per semi-space it stayed
 *   at 50-57 MiB, with the same CPU per call.
 * - glibc's malloc arenas. A job process runs some ten native threads (WebRTC's, the FFI's tokio
 *   runtime, the audio encoder), and glibc gives threads their own arenas, up to eight per core,
 *   each keeping freed memory: 27-33 MiB of such memory in a call. With two arenas, 13-21 MiB,
 *   part of the rest moving to the main arena: about 10 MiB less in all, and less alone than
 *   with the young generation limited too.
 *
 * How: @livekit/agents forks its processes with the worker's `execArgv` (explicitly under tsx, by
 * Node's default when compiled; ipc/job_proc_executor.js) and its environment, so the worker
 * adds V8's flag to the one and glibc's variable to the other before anything is forked. glibc
 * reads the variable only as a process starts: the worker's own allocator is not changed.
 */

/** V8's flag: the most each semi-space may grow to. Unit: MiB. */
const SEMI_SPACE_FLAG = '--max-semi-space-size';
/** glibc's variable: the most malloc arenas a process may have. */
const ARENA_MAX_VARIABLE = 'MALLOC_ARENA_MAX';

/** Measured (see above): 2 MiB per semi-space, 4 MiB of new space. */
export const DEFAULT_JOB_SEMI_SPACE_MB = 2;
/** Measured (see above): the main arena and one that every other thread shares. */
export const DEFAULT_JOB_MALLOC_ARENAS = 2;

export interface JobProcessMemory {
  /** The most each young-generation semi-space may grow to. Unit: MiB; 0 leaves V8's default. */
  semiSpaceMb: number;
  /**
   * glibc's arena limit for forked processes; undefined leaves the environment as it is (the
   * operator set MALLOC_ARENA_MAX, which forked processes inherit anyway, or asked for glibc's
   * default).
   */
  mallocArenas?: number;
}

/** True when the worker itself was started with a semi-space flag: the operator's choice wins. */
function hasSemiSpaceFlag(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(arg));
}

/**
 * Processes forked from now on start with these settings. Idempotent; a semi-space flag the
 * worker was started with is kept. Writes the environment forked processes inherit; the
 * configuration (src/config/env.ts) has already decided whether the operator's arena limit stands.
 */
export function limitJobProcessMemory(
  memory: JobProcessMemory,
  execArgv: string[],
  env: NodeJS.ProcessEnv,
): void {
  if (memory.semiSpaceMb > 0 && !hasSemiSpaceFlag(execArgv))
    execArgv.push(`${SEMI_SPACE_FLAG}=${memory.semiSpaceMb}`);
  if (memory.mallocArenas !== undefined) env[ARENA_MAX_VARIABLE] = String(memory.mallocArenas);
}
