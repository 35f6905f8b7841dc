/**
 * The demo web server: the browser page and the token endpoint it calls. The endpoint speaks the
 * request/response shape of livekit-client's `TokenSource.endpoint` (snake_case JSON), so any
 * LiveKit client SDK can use it. The room and the identity are always chosen here, never by the
 * browser, so a caller cannot join another caller's room; the agent is one of WEB_AGENTS (the
 * first unless the request asks for another on that list). Who may ask, how often and for how
 * many calls at once is decided by the library's TokenEndpoint (src/tokens/token-endpoint.ts):
 * the authorisation hook of WEB_AUTH_MODULE (unset: open to anyone, and the log says so), the
 * Origin allow-list, rate limits per address and per user, and a cap on each user's calls.
 *
 * The page may also ask for a call back (`POST /api/callback`, src/tokens/callback-endpoint.ts):
 * behind the same gate, limited per number, each one a one-row campaign placed through
 * WEB_CALLBACK_TRUNK (unset: no callbacks). Stopping the server stops them: no further dial
 * starts, the calls being placed are hung up, and each campaign's journal records how it ended.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { readDoNotCallList } from '../src/campaigns/do-not-call.js';
import { isSwitchboardError, loadConfig, SwitchboardError } from '../src/index.js';
import { liveKitDialer } from '../src/outbound/livekit-dialer.js';
import {
  CallbackEndpoint,
  loadAuthorizer,
  openAccess,
  TokenEndpoint,
  type TokenHttpRequest,
} from '../src/tokens/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_BODY_BYTES = 64 * 1024;

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
  const web = config.web;
  const authorize =
    web.authModule === undefined ? openAccess : await loadAuthorizer(web.authModule);
  const limits = {
    tokenTtlSeconds: web.tokenTtlSeconds,
    ratePerAddressPerMinute: web.tokenRatePerAddressPerMinute,
    ratePerUserPerMinute: web.tokenRatePerUserPerMinute,
    maxCallsPerUser: web.maxCallsPerUser,
  };
  const endpoint = new TokenEndpoint({
    livekit: config.livekit,
    agents: config.webAgents,
    authorize,
    ...(web.allowedOrigins === undefined ? {} : { allowedOrigins: web.allowedOrigins }),
    ...limits,
  });
  // Tokens whose call came and went between two requests stop counting against their user.
  const watching = new AbortController();
  const watch = endpoint.watchPendingRooms(watching.signal);
  const origins = web.allowedOrigins?.join(', ') ?? 'the page itself';
  if (web.authModule === undefined)
    console.log(
      `token endpoint OPEN: anyone who reaches it gets a token (no authorisation; set WEB_AUTH_MODULE to require it); origins: ${origins}; limits: ${JSON.stringify(limits)}`,
    );
  else
    console.log(
      `token endpoint authorised by ${web.authModule}; origins: ${origins}; limits: ${JSON.stringify(limits)}`,
    );

  const callbacks = new CallbackEndpoint({
    trunk: config.webCallback.trunk,
    agent: config.webCallback.agent,
    agents: config.webAgents,
    dialer: liveKitDialer(config.livekit),
    authorize,
    ...(web.allowedOrigins === undefined ? {} : { allowedOrigins: web.allowedOrigins }),
    ratePerAddressPerHour: config.webCallback.ratePerAddressPerHour,
    ratePerUserPerHour: config.webCallback.ratePerUserPerHour,
    perNumberPerDay: config.webCallback.perNumberPerDay,
    campaignsDir: config.webCallback.campaignsDir,
    ...(config.webCallback.doNotCallFile === undefined
      ? {}
      : { doNotCall: await doNotCallReader(config.webCallback.doNotCallFile) }),
    log: (line) => console.log(line),
  });
  const cb = config.webCallback;
  if (cb.trunk === undefined)
    console.log(
      'callbacks off: the page offers no calls back (set WEB_CALLBACK_TRUNK to offer them)',
    );
  else
    console.log(
      `callbacks on through trunk ${cb.trunk} (agent ${cb.agent}); do-not-call list: ${cb.doNotCallFile ?? 'none'}; state in ${cb.campaignsDir}; limits: ${JSON.stringify({ ratePerAddressPerHour: cb.ratePerAddressPerHour, ratePerUserPerHour: cb.ratePerUserPerHour, perNumberPerDay: cb.perNumberPerDay })}`,
    );

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
    } else if (path === '/api/token' || path === '/api/callback') {
      const request: TokenHttpRequest = {
        method: req.method ?? 'GET',
        address: req.socket.remoteAddress ?? 'unknown',
        headers: req.headers,
        ...(req.method === 'POST' ? { body: await readJson(req) } : {}),
      };
      const reply = await (path === '/api/token'
        ? endpoint.handle(request)
        : callbacks.handle(request));
      res
        .writeHead(reply.status, {
          ...reply.headers,
          ...(reply.body === undefined ? {} : { 'content-type': 'application/json' }),
        })
        .end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
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
  // The first signal closes the listeners and lets the callbacks under way record how they
  // ended; a second one quits at once (their next run of `campaign status` shows them interrupted).
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    for (const s of servers) s.close();
    watching.abort();
    Promise.all([watch, callbacks.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('stopping the callbacks failed', err instanceof Error ? err.message : err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * The do-not-call list, read now (a broken file stops the server at start) and again for every
 * callback request, so that a number added to the file is not called from the next request on.
 */
async function doNotCallReader(file: string): Promise<() => Promise<ReadonlySet<string>>> {
  const read = async () => {
    try {
      return await readDoNotCallList(file);
    } catch (err) {
      throw new SwitchboardError(
        'config_invalid',
        `WEB_CALLBACK_DNC_FILE: ${(err as Error).message.replace(' Check --dnc.', '')}`,
        { cause: err },
      );
    }
  };
  await read();
  return read;
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
