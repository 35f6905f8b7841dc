import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Keeps a new idle job process from loading while a call is being set up.
 *
 * Why: @livekit/agents 1.9.0 forks the next idle process the moment a job takes the current one
 * (ipc/proc_pool.js releases the slot before it launches the job). Loading it (the framework's
 * ~1700 modules, then prewarm) costs about 3.4 s of CPU on a 2-core host, and it ran beside the
 * new call's own set-up (bench/RESULTS.md "Call set-up").
 *
 * How: processes forked by the worker inherit its `execArgv`, so the worker adds a module there
 * that every forked process loads first (src/worker/spare-process-gate.ts). Once the worker has
 * accepted a call, it writes the hold into that module's URL: from then on every job process is
 * forked because a call took the one before it, and waits out that call's set-up in the module,
 * before the framework loads anything. The processes of the worker's start do not wait.
 */

/** The gate module's search parameter: how long a new job process waits. Unit: ms. */
export const HOLD_PARAM = 'holdMs';
/** The framework's job process entry: only job processes wait (not its inference process). */
const JOB_PROCESS_ENTRY = /job_proc_lazy_main\.[cm]?[jt]s$/;
/** Never wait longer than this, whatever the URL says. */
export const MAX_SPARE_PROCESS_HOLD_MS = 10_000;

/** The gate's URL without a hold: .ts under tsx (development), .js when compiled. */
function gateUrl(): string {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./spare-process-gate${ext}`, import.meta.url).href;
}

function gateIndex(execArgv: readonly string[], gate: string): number {
  return execArgv.findIndex((arg) => arg === gate || arg.startsWith(`${gate}?`));
}

/** Makes processes forked from now on load the gate first. Idempotent. */
export function installSpareProcessGate(execArgv: string[] = process.execArgv): void {
  const gate = gateUrl();
  if (gateIndex(execArgv, gate) === -1) execArgv.push('--import', gate);
}

/** Job processes forked from now on wait `holdMs` before loading. Needs the gate installed. */
export function holdSpareProcesses(holdMs: number, execArgv: string[] = process.execArgv): void {
  const gate = gateUrl();
  const at = gateIndex(execArgv, gate);
  if (at === -1) throw new Error('the spare process gate is not installed');
  execArgv[at] = `${gate}?${HOLD_PARAM}=${Math.round(holdMs)}`;
}

/**
 * The worker's side: installs the gate (unless `holdMs` is 0) and returns what to call just
 * before accepting a call.
 */
export function spareProcessHold(
  holdMs: number,
  execArgv: string[] = process.execArgv,
): () => void {
  if (holdMs <= 0) return () => undefined;
  installSpareProcessGate(execArgv);
  return () => holdSpareProcesses(holdMs, execArgv);
}

/** How long a process started as `argv` waits, with the gate loaded from `gateModuleUrl`. */
export function spareProcessWaitMs(argv: readonly string[], gateModuleUrl: string): number {
  if (!JOB_PROCESS_ENTRY.test(argv[1] ?? '')) return 0;
  const holdMs = Number(new URL(gateModuleUrl).searchParams.get(HOLD_PARAM) ?? NaN);
  if (!Number.isFinite(holdMs)) return 0;
  return Math.min(MAX_SPARE_PROCESS_HOLD_MS, Math.max(0, holdMs));
}
