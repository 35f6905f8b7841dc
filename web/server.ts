/**
 * The demo web server: the browser page and the token endpoint it calls. The endpoint speaks the
 * request/response shape of livekit-client's `TokenSource.endpoint` (snake_case JSON), so any
 * LiveKit client SDK can use it. The room and the identity are always chosen here, never by the
 * browser, so a caller cannot join another caller's room; the agent is one of WEB_AGENTS (the
 * first unless the request asks for another on that list).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { z } from 'zod';
import { createParticipantToken, isSwitchboardError, loadConfig } from '../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Unit: seconds. Long enough to join; the session outlives the token once connected. */
const TOKEN_TTL_SECONDS = 600;
const MAX_BODY_BYTES = 64 * 1024;

const TokenRequest = z
  .object({
    participant_name: z.string().max(64).optional(),
    // livekit-client's TokenSource sends the agent it asks for here (`agentName` option).
    room_config: z
      .object({
        agents: z
          .array(z.object({ agent_name: z.string().max(64).optional() }).loose())
          .max(1)
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [join(HERE, 'client.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error('esbuild produced no output for web/client.ts');
  return out.text;
}

async function main(): Promise<void> {
  // Several --host values: a browser grants the microphone only to a secure context, and plain
  // http is one only on localhost, so the page is served on 127.0.0.1 as well as the stack address.
  const { values } = parseArgs({
    options: { host: { type: 'string', multiple: true }, port: { type: 'string' } },
  });
  const config = loadConfig();
  const hosts = values.host ?? ['127.0.0.1'];
  const port = Number(values.port ?? config.webPort ?? 8080);
  const [page, client] = await Promise.all([
    readFile(join(HERE, 'index.html'), 'utf8'),
    bundleClient(),
  ]);

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((err: unknown) => {
      console.error('web request failed', err instanceof Error ? err.message : err);
      if (!res.headersSent)
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"error":"internal error"}');
    });
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else if (req.method === 'GET' && path === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(client);
    } else if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else if (req.method === 'POST' && path === '/api/token') {
      const body = TokenRequest.safeParse(await readJson(req));
      if (!body.success) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: `invalid token request: ${z.prettifyError(body.error)}` }));
        return;
      }
      // The server picks the agent: the one asked for only if it is on its list.
      const asked = body.data.room_config?.agents?.[0]?.agent_name;
      const agentName = asked ?? config.webAgents[0];
      if (!config.webAgents.includes(agentName)) {
        res.writeHead(403, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: `agent "${agentName}" is not offered here; ask for one of ${config.webAgents.join(', ')} (WEB_AGENTS)`,
          }),
        );
        return;
      }
      const token = await createParticipantToken({
        apiKey: config.livekit.apiKey,
        apiSecret: config.livekit.apiSecret,
        agentName,
        ttlSeconds: TOKEN_TTL_SECONDS,
        ...(body.data.participant_name === undefined
          ? {}
          : { displayName: body.data.participant_name }),
      });
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ server_url: config.livekit.url, participant_token: token.token }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  }

  const servers = hosts.map((host) => {
    const s = createServer(handler);
    s.listen(port, host, () =>
      console.log(`web page and token endpoint on http://${host}:${port}/`),
    );
    return s;
  });
  const stop = () => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > MAX_BODY_BYTES) return undefined;
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

main().catch((err: unknown) => {
  console.error(isSwitchboardError(err) ? `error [${err.code}]: ${err.message}` : err);
  process.exit(1);
});
