/**
 * The offline speech server: an OpenAI-compatible HTTP server for machines that cannot reach
 * OpenAI. It is a stand-in, not an AI: `/v1/audio/speech` speaks with espeak-ng. The agent reaches
 * it through the same `@livekit/agents-plugin-openai` classes it uses with OpenAI.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { synthesizePcm } from './espeak.js';

const SpeechRequest = z.object({
  input: z.string().min(1).max(4096),
  model: z.string().optional(),
  voice: z.string().optional(),
  response_format: z.enum(['pcm']).default('pcm'),
  speed: z.number().min(0.25).max(4).default(1),
});

/** espeak-ng's default rate, scaled by OpenAI's `speed`. */
const BASE_WORDS_PER_MINUTE = 175;
const MAX_BODY_BYTES = 1 << 20;

export function createOfflineSpeechServer() {
  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      sendError(res, 500, 'server_error', err instanceof Error ? err.message : String(err));
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  if (req.method === 'GET' && path === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    return;
  }
  if (req.method === 'POST' && path === '/v1/audio/speech') {
    const body = SpeechRequest.safeParse(await readJson(req));
    if (!body.success) {
      sendError(res, 400, 'invalid_request_error', z.prettifyError(body.error));
      return;
    }
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const pcm = await synthesizePcm(body.data.input, {
      wordsPerMinute: Math.round(BASE_WORDS_PER_MINUTE * body.data.speed),
      signal: abort.signal,
    });
    res.writeHead(200, { 'content-type': 'audio/pcm', 'content-length': pcm.length }).end(pcm);
    return;
  }
  sendError(
    res,
    404,
    'not_found',
    `${req.method ?? ''} ${path} is not served by the offline speech server (it answers /v1/audio/speech)`,
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, code: null } }));
}
