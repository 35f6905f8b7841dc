import { createServer, type Server, type ServerResponse } from 'node:http';
import type { CapacityLimit } from './capacity.js';

/**
 * The production worker's health endpoint, `GET /health`, for a load balancer, an orchestrator's
 * readiness probe or a person. The framework's own server (`GET /`, `GET /worker` on
 * AGENT_HTTP_PORT) answers 200 while its connection to LiveKit is open, also while it drains; this
 * one says whether the worker takes new calls.
 *
 *   starting      503  not registered with LiveKit yet
 *   ready         200  registered, taking calls (up to its limit)
 *   disconnected  503  lost its connection to LiveKit; the framework reconnects, and the worker is
 *                      ready again once LiveKit has registered it anew
 *   draining      503  finishing its calls after SIGTERM, taking no new ones
 */
export type WorkerPhase = 'starting' | 'ready' | 'disconnected' | 'draining';

export interface WorkerHealth {
  phase: WorkerPhase;
  activeCalls: number;
  maxCalls: number;
  /** Where `maxCalls` comes from: AGENT_MAX_CALLS (`configured`), or the machine's CPU or memory. */
  limitedBy: CapacityLimit;
  /** 1 = full, by calls or by its own CPU. */
  usage: number;
}

/** The worker's connection to livekit-server as last seen; unknown: it could not be told. */
export type LivekitConnection = 'connected' | 'disconnected' | 'unknown';

/** What moves the phase: a registration by livekit-server, a look at the connection, a drain. */
export type PhaseEvent =
  | { type: 'registered' }
  | { type: 'connection'; connection: LivekitConnection }
  | { type: 'draining' };

/**
 * The phase after `event`. Only a registration makes the worker ready, also after a lost
 * connection: a socket open again is not yet a worker livekit-server offers calls to. A connection
 * that cannot be told (`unknown`) changes nothing, so a framework that answers differently from the
 * one this was read from leaves the worker ready rather than out of service for no reason.
 */
export function nextPhase(phase: WorkerPhase, event: PhaseEvent): WorkerPhase {
  if (phase === 'draining' || event.type === 'draining') return 'draining';
  if (event.type === 'registered') return 'ready';
  if (event.connection === 'disconnected' && phase === 'ready') return 'disconnected';
  return phase;
}

/**
 * @livekit/agents 1.9.0 (dist/worker.js, the `healthCheck` built in the AgentServer constructor)
 * answers its `GET /` with 503 and this text while it is closed, has not registered yet, or its
 * websocket to livekit-server is not open (reconnecting).
 */
const FRAMEWORK_NOT_CONNECTED = 'not connected to livekit';

/**
 * Reads the framework's answer to `GET /` on its own HTTP server. 503 for another reason (its
 * inference process is down) or an answer this version does not give says nothing about the
 * connection: unknown.
 */
export function connectionFromFrameworkHealth(status: number, body: string): LivekitConnection {
  if (status === 200) return 'connected';
  if (status === 503 && body.trim() === FRAMEWORK_NOT_CONNECTED) return 'disconnected';
  return 'unknown';
}

/**
 * The worker's connection to livekit-server, asked of the framework's own HTTP server at
 * `host`:`port` (its ServerOptions). Why over HTTP: in @livekit/agents 1.9.0 the connection is held
 * in native private fields of AgentServer (`#session`, the websocket; `#connecting`; `#closed`),
 * which no code outside the class can read, and no event tells a lost connection (only
 * 'worker_registered' a new registration). Its `GET /` health check is the one public view of them.
 * Any failure to ask (refused, timed out) is unknown, never disconnected.
 */
export async function readFrameworkConnection(opts: {
  host: string;
  port: number;
  timeoutMs: number;
}): Promise<LivekitConnection> {
  try {
    const res = await fetch(`http://${loopbackFor(opts.host)}:${opts.port}/`, {
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    return connectionFromFrameworkHealth(res.status, await res.text());
  } catch {
    return 'unknown';
  }
}

/** The address to reach a server listening on `host`: loopback for an unspecified address. */
function loopbackFor(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export function healthResponse(h: WorkerHealth): { status: number; body: string } {
  return {
    status: h.phase === 'ready' ? 200 : 503,
    body: JSON.stringify({
      status: h.phase,
      activeCalls: h.activeCalls,
      maxCalls: h.maxCalls,
      limitedBy: h.limitedBy,
      usage: Math.round(h.usage * 100) / 100,
    }),
  };
}

async function answerHealth(
  res: ServerResponse,
  health: () => WorkerHealth | Promise<WorkerHealth>,
): Promise<void> {
  try {
    const { status, body } = healthResponse(await health());
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(body);
  } catch {
    // A probe that cannot be answered is a failed probe, not a hung one.
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  health: () => WorkerHealth | Promise<WorkerHealth>;
}): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      void answerHealth(res, opts.health);
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}
