/**
 * `npm run call`: the process edge of src/outbound/call-command.ts, the one place it reads the
 * configuration (LiveKit's URL and keys, from the environment or .env.local as the worker reads
 * them: the local stack by default, LiveKit Cloud with LIVEKIT_URL, LIVEKIT_API_KEY,
 * LIVEKIT_API_SECRET).
 */
import { SipClient } from 'livekit-server-sdk';
import { loadConfig } from '../src/config/index.js';
import { runCallCommand } from '../src/outbound/call-command.js';
import { liveKitDialer } from '../src/outbound/livekit-dialer.js';

async function main(): Promise<number> {
  const livekit = loadConfig().livekit;
  const interrupted = new AbortController();
  process.once('SIGINT', () => interrupted.abort());
  return runCallCommand(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    dialer: liveKitDialer(livekit),
    outboundTrunkNames: async () =>
      (
        await new SipClient(livekit.url, livekit.apiKey, livekit.apiSecret).listSipOutboundTrunk()
      ).map((t) => t.name),
    signal: interrupted.signal,
  });
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
