import type { AgentServer } from '@livekit/agents';

/**
 * The load a worker reports to LiveKit: the share of its call capacity in use.
 *
 * The framework's default reports the whole machine's CPU. livekit-server dispatches a job only to
 * workers whose load is below its agents target (0.7 by default) and does not retry later, so on a
 * host shared with livekit-server, livekit-sip or a browser, a busy moment made calls go
 * unanswered (seen in this project's tests on 2 cores). Counting this worker's own calls keeps
 * dispatch predictable: with `maxConcurrentCalls` N the worker takes new calls while fewer than
 * 0.7 N are active (the server's headroom), and reports itself full at N.
 */
export function callCountLoad(
  maxConcurrentCalls: number,
): (server: AgentServer) => Promise<number> {
  return (server) => Promise.resolve(Math.min(1, server.activeJobs.length / maxConcurrentCalls));
}
