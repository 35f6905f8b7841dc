import {
  restartService,
  runningServiceRecord,
  scaleNodes,
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

/**
 * Scales the running stack to `nodes` LiveKit nodes (livekit-server + livekit-sip each, one
 * Redis), the same code path as `npm run stack -- up --nodes N`. Resolves once every new node's
 * services are ready, or the removed ones have stopped.
 */
export function scaleStackNodes(nodes: number): Promise<void> {
  return scaleNodes(nodes);
}

/** The log file of one service of the running stack (e.g. livekit-server-2's). */
export async function stackServiceLog(name: string): Promise<string> {
  return (await runningServiceRecord(name)).log;
}
