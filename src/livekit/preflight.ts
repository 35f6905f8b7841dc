import { RoomServiceClient } from 'livekit-server-sdk';
import type { Config } from '../config/index.js';
import { SwitchboardError } from '../errors/index.js';

const PREFLIGHT_TIMEOUT_MS = 3_000;

/**
 * Checks, before the worker starts, that LiveKit answers and accepts the key, and that the offline
 * speech server answers when it is the model provider. The agents framework would otherwise retry
 * for minutes and end with a generic error.
 */
export async function preflight(config: Pick<Config, 'livekit' | 'models'>): Promise<void> {
  const { url, apiKey, apiSecret, isLocalStack } = config.livekit;
  const startHint = isLocalStack
    ? 'Start the local stack with `npm run stack -- up` (or `npm start`), or set LIVEKIT_URL to your LiveKit server.'
    : 'Check LIVEKIT_URL and that the server is running and reachable from this machine.';
  const client = new RoomServiceClient(url, apiKey, apiSecret, {
    requestTimeout: PREFLIGHT_TIMEOUT_MS / 1000,
  });
  try {
    await client.listRooms();
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 401 || status === 403) {
      throw new SwitchboardError(
        'livekit_auth_failed',
        `LiveKit at ${url} rejected API key "${apiKey}" (HTTP ${status}). Set LIVEKIT_API_KEY and LIVEKIT_API_SECRET to a key pair of that server (the \`keys\` of its livekit.yaml, or the Cloud project's API keys).`,
        { cause: err },
      );
    }
    if (status === undefined) {
      throw new SwitchboardError(
        'livekit_unreachable',
        `Cannot reach LiveKit at ${url} (${describe(err)}). ${startHint}`,
        {
          retryable: true,
          cause: err,
        },
      );
    }
    throw new SwitchboardError(
      'livekit_unreachable',
      `LiveKit at ${url} answered HTTP ${status}: ${describe(err)}. ${startHint}`,
      {
        retryable: true,
        cause: err,
      },
    );
  }

  if (config.models.kind === 'offline') {
    const health = new URL('/health', config.models.baseUrl);
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      throw new SwitchboardError(
        'speech_server_unreachable',
        `Cannot reach the offline speech server at ${health.origin} (${describe(err)}). Start the local stack with \`npm run stack -- up\`, or set OPENAI_API_KEY to use OpenAI.`,
        { retryable: true, cause: err },
      );
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: string } | undefined)?.code;
  return code === undefined ? err.message : `${err.message}: ${code}`;
}
