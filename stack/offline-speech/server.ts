/**
 * The offline speech server: an OpenAI-compatible HTTP server for machines that cannot reach
 * OpenAI. It is a stand-in, not an AI:
 *   POST /v1/audio/speech          espeak-ng speech (response_format pcm)
 *   POST /v1/audio/transcriptions  pocketsphinx with a grammar of the scripted dialog's phrases
 *   WS   /v1/realtime?intent=transcription
 *                                  the same recognizer, streaming (OpenAI's realtime transcription
 *                                  protocol, see realtime-transcription.ts)
 * Both recognize with one long-lived pocketsphinx decoder process (recognizer.ts, decoder.py), which
 * the server starts at the first recognition and ends when it closes.
 *   POST /v1/chat/completions      the scripted dialog (streaming, tool calls), see scripted-dialog.ts
 *   POST /faults/realtime/drop     test fault switch: drops every transcription WebSocket abruptly
 * The agent reaches it through the same `@livekit/agents-plugin-openai` classes it uses with OpenAI.
 */
import { randomUUID } from 'node:crypto';
import { Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { synthesizePcm } from './espeak.js';
import {
  attachRealtimeTranscription,
  type RealtimeTranscription,
  type Recognizer,
} from './realtime-transcription.js';
import { PocketsphinxDecoder, recognize } from './recognizer.js';
import { nextTurn } from './scripted-dialog.js';

/** What the scripted dialog answers as its model name: never presented as an AI model. */
const DIALOG_MODEL = 'scripted-dialog (not AI)';

const ChatRequest = z
  .object({
    messages: z.array(z.object({ role: z.string() }).loose()),
    stream: z.boolean().default(false),
    tools: z
      .array(z.object({ function: z.object({ name: z.string() }).loose() }).loose())
      .optional(),
  })
  .loose();

const SpeechRequest = z.object({
  input: z.string().min(1).max(4096),
  model: z.string().optional(),
  voice: z.string().optional(),
  response_format: z.enum(['pcm']).default('pcm'),
  speed: z.number().min(0.25).max(4).default(1),
});

/** espeak-ng's default rate, scaled by OpenAI's `speed`. */
const BASE_WORDS_PER_MINUTE = 175;
const MAX_BODY_BYTES = 16 << 20;

export interface OfflineSpeechServerOptions {
  /** The realtime endpoint's recognizer, instead of the server's decoder (tests). */
  realtimeRecognizer?: Recognizer;
  /** A decoder the caller owns (and closes); by default the server has its own. */
  decoder?: PocketsphinxDecoder;
}

export class OfflineSpeechServer extends Server {
  readonly realtime: RealtimeTranscription;
  readonly decoder: PocketsphinxDecoder;
  readonly #ownsDecoder: boolean;

  constructor(opts: OfflineSpeechServerOptions = {}) {
    const decoder = opts.decoder ?? new PocketsphinxDecoder();
    super((req, res) => {
      // The stand-in's fault switch, for tests of what callers live through when the
      // provider's transcription socket breaks; OpenAI has no such endpoint.
      if (req.method === 'POST' && req.url === '/faults/realtime/drop') {
        const closed = this.realtime.dropAll();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ closed }));
        return;
      }
      handle(req, res, decoder).catch((err: unknown) => {
        sendError(res, 500, 'server_error', err instanceof Error ? err.message : String(err));
      });
    });
    this.decoder = decoder;
    this.#ownsDecoder = opts.decoder === undefined;
    this.realtime = attachRealtimeTranscription(this, {
      recognize: opts.realtimeRecognizer ?? ((audio, o) => recognize(audio, decoder, o)),
    });
  }

  // close() waits for every socket, and a worker's transcription WebSocket stays open for the
  // whole call: without closing them, a SIGTERM would wait for the last call to end.
  override close(callback?: (err?: Error) => void): this {
    this.realtime.closeAll();
    // Its own child process, ended by its pid; a recognition still running fails, as it must.
    if (this.#ownsDecoder) void this.decoder.close();
    return super.close(callback);
  }
}

export function createOfflineSpeechServer(
  opts: OfflineSpeechServerOptions = {},
): OfflineSpeechServer {
  return new OfflineSpeechServer(opts);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  decoder: PocketsphinxDecoder,
): Promise<void> {
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
  if (req.method === 'POST' && path === '/v1/audio/transcriptions') {
    const form = await new Request('http://local/', {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body: new Uint8Array(await readBody(req)),
    })
      .formData()
      .catch(() => undefined);
    const file = form?.get('file');
    if (file === undefined || file === null || typeof file === 'string') {
      sendError(
        res,
        400,
        'invalid_request_error',
        'expected multipart/form-data with an audio "file"',
      );
      return;
    }
    const result = await recognize(Buffer.from(await file.arrayBuffer()), decoder, {
      search: 'phrases',
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        text: result.text,
        usage: { type: 'duration', seconds: Math.ceil(result.durationSeconds) },
      }),
    );
    return;
  }
  if (req.method === 'POST' && path === '/v1/chat/completions') {
    const body = ChatRequest.safeParse(
      JSON.parse((await readBody(req)).toString('utf8') || 'null'),
    );
    if (!body.success) {
      sendError(res, 400, 'invalid_request_error', z.prettifyError(body.error));
      return;
    }
    const tools = (body.data.tools ?? []).map((t) => t.function.name);
    const turn = nextTurn(body.data.messages, tools);
    sendChatCompletion(res, turn, body.data.stream, body.data.messages.length);
    return;
  }
  sendError(
    res,
    404,
    'not_found',
    `${req.method ?? ''} ${path} is not served by the offline speech server (it answers /v1/audio/speech, /v1/audio/transcriptions, /v1/chat/completions and a WebSocket on /v1/realtime?intent=transcription)`,
  );
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse((await readBody(req)).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Answers in OpenAI's chat completion format, as server-sent events when asked to stream. */
function sendChatCompletion(
  res: ServerResponse,
  turn: ReturnType<typeof nextTurn>,
  stream: boolean,
  promptMessages: number,
): void {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const content = turn.kind === 'text' ? turn.text : null;
  const toolCalls =
    turn.kind === 'tool_call'
      ? [
          {
            index: 0,
            id: `call_${randomUUID().slice(0, 8)}`,
            type: 'function',
            function: { name: turn.name, arguments: turn.arguments },
          },
        ]
      : undefined;
  const finishReason = turn.kind === 'tool_call' ? 'tool_calls' : 'stop';
  // Token counts of a script: one "token" per word, so usage figures are comparable between calls.
  const completionTokens = content === null ? 1 : content.split(/\s+/).length;
  const usage = {
    prompt_tokens: promptMessages,
    completion_tokens: completionTokens,
    total_tokens: promptMessages + completionTokens,
  };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model: DIALOG_MODEL,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content,
              ...(toolCalls ? { tool_calls: toolCalls } : {}),
            },
            finish_reason: finishReason,
          },
        ],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: DIALOG_MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  if (content !== null) {
    // Word by word, as a streaming model would, so the agent's sentence splitting is exercised.
    for (const word of content.split(/(?<= )/)) res.write(chunk({ content: word }, null));
  }
  if (toolCalls !== undefined) res.write(chunk({ tool_calls: toolCalls }, null));
  res.write(chunk({}, finishReason));
  res.write(
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: DIALOG_MODEL, choices: [], usage })}\n\n`,
  );
  res.end('data: [DONE]\n\n');
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, code: null } }));
}
