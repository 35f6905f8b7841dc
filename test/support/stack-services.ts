import {
  restartService,
  runningServiceRecord,
  type RestartOptions,
  type RestartResult,
} from '../../stack/stack.js';

/**
 * Fault injection for end-to-end tests: restarts one service of the running stack, the same code
 * path as `npm run stack -- restart`. Resolves once the service passes its ready check again.
 * `{ kill: true }` simulates a crash; `downForMs` keeps it down that long first. Host-network
 * services (web-localhost) cannot be restarted from the tests, which run inside the namespace.
 */
export function restartStackService(
  name: string,
  opts: Partial<RestartOptions> = {},
): Promise<RestartResult> {
  return restartService(name, opts);
}

/** The pid the stack's state file records for a service (changes with every restart). */
export async function stackServicePid(name: string): Promise<number> {
  return (await runningServiceRecord(name)).pid;
}
