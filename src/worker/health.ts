import { createServer, type Server } from 'node:http';

/**
 * The production worker's health endpoint, `GET /health`, for a load balancer, an orchestrator's
 * readiness probe or a person. The framework's own server (`GET /`, `GET /worker` on
 * AGENT_HTTP_PORT) answers 200 until the worker disconnects, also while it drains; this one says
 * whether the worker takes new calls.
 *
 *   starting  503  not registered with LiveKit yet
 *   ready     200  registered, taking calls (up to its limit)
 *   draining  503  finishing its calls after SIGTERM, taking no new ones
 */
export type WorkerPhase = 'starting' | 'ready' | 'draining';

export interface WorkerHealth {
  phase: WorkerPhase;
  activeCalls: number;
  maxCalls: number;
  /** 1 = full, by calls or by its own CPU. */
  usage: number;
}

export function healthResponse(h: WorkerHealth): { status: number; body: string } {
  return {
    status: h.phase === 'ready' ? 200 : 503,
    body: JSON.stringify({
      status: h.phase,
      activeCalls: h.activeCalls,
      maxCalls: h.maxCalls,
      usage: Math.round(h.usage * 100) / 100,
    }),
  };
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  health: () => WorkerHealth;
}): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      const { status, body } = healthResponse(opts.health());
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body);
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
