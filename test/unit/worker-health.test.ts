/**
 * GET /health stops saying ready while the worker's connection to LiveKit is gone, and says ready
 * again once LiveKit has registered the worker anew.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectionFromFrameworkHealth,
  nextPhase,
  readFrameworkConnection,
  startHealthServer,
  type PhaseEvent,
  type WorkerHealth,
  type WorkerPhase,
} from '../../src/worker/index.js';

const registered: PhaseEvent = { type: 'registered' };
const lost: PhaseEvent = { type: 'connection', connection: 'disconnected' };
const open: PhaseEvent = { type: 'connection', connection: 'connected' };
const unknown: PhaseEvent = { type: 'connection', connection: 'unknown' };
const draining: PhaseEvent = { type: 'draining' };

describe('nextPhase', () => {
  it.each<[WorkerPhase, PhaseEvent, WorkerPhase]>([
    ['starting', registered, 'ready'],
    ['starting', lost, 'starting'],
    ['starting', open, 'starting'],
    ['ready', lost, 'disconnected'],
    ['ready', open, 'ready'],
    ['ready', unknown, 'ready'],
    ['ready', registered, 'ready'],
    // An open socket again is not a registration: livekit-server offers no call before that.
    ['disconnected', open, 'disconnected'],
    ['disconnected', unknown, 'disconnected'],
    ['disconnected', registered, 'ready'],
    ['starting', draining, 'draining'],
    ['ready', draining, 'draining'],
    ['disconnected', draining, 'draining'],
    ['draining', registered, 'draining'],
    ['draining', lost, 'draining'],
  ])('%s, then %j: %s', (phase, event, next) => {
    expect(nextPhase(phase, event)).toBe(next);
  });

  it.each<[string, PhaseEvent[], WorkerPhase]>([
    ['registered', [registered], 'ready'],
    ['connection lost while ready', [registered, open, lost], 'disconnected'],
    ['reconnected, not registered yet', [registered, lost, open], 'disconnected'],
    ['registered again after a reconnection', [registered, lost, open, registered], 'ready'],
    ['drained while disconnected', [registered, lost, draining, registered], 'draining'],
  ])('%s', (_name, events, phase) => {
    expect(events.reduce(nextPhase, 'starting')).toBe(phase);
  });
});

describe("the framework's own health check", () => {
  it.each([
    [200, 'OK', 'connected'],
    [503, 'not connected to livekit', 'disconnected'],
    [503, 'inference process not running', 'unknown'],
    [404, 'not found', 'unknown'],
    [500, '', 'unknown'],
  ] as const)('%i %j: %s', (status, body, connection) => {
    expect(connectionFromFrameworkHealth(status, body)).toBe(connection);
  });

  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A stand-in for the framework's HTTP server answering GET / with `status` and `body`. */
  async function framework(status: number, body: string): Promise<number> {
    const server = createServer((_req, res) => {
      res.writeHead(status);
      res.end(body);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  it.each([
    [200, 'OK', 'connected'],
    [503, 'not connected to livekit', 'disconnected'],
  ] as const)('is asked over loopback for a server on every address: %i', async (s, b, c) => {
    const port = await framework(s, b);
    expect(await readFrameworkConnection({ host: '0.0.0.0', port, timeoutMs: 1_000 })).toBe(c);
  });

  it('is unknown when it cannot be asked', async () => {
    const port = await framework(200, 'OK');
    await new Promise((r) => servers.pop()!.close(r));
    expect(await readFrameworkConnection({ host: '127.0.0.1', port, timeoutMs: 1_000 })).toBe(
      'unknown',
    );
  });
});

describe('GET /health', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server !== undefined) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  async function get(health: () => Promise<WorkerHealth>) {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, health });
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return { status: res.status, body: await res.text() };
  }

  it.each([
    ['ready', 200],
    ['disconnected', 503],
  ] as const)('answers a health read asynchronously: %s %i', async (phase, status) => {
    const r = await get(async () => ({
      phase,
      activeCalls: 0,
      maxCalls: 2,
      limitedBy: 'cpu',
      usage: 0,
    }));
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body)).toMatchObject({ status: phase });
  });

  it('answers 500, not a hung request, when the health cannot be read', async () => {
    const r = await get(() => Promise.reject(new Error('boom')));
    expect(r.status).toBe(500);
  });
});
