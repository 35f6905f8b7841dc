/**
 * `npm run call`: the process edge of src/outbound/call-command.ts, the one place it reads the
 * environment (LiveKit's URL and keys: the local stack by default, LiveKit Cloud with LIVEKIT_URL,
 * LIVEKIT_API_KEY, LIVEKIT_API_SECRET).
 */
import { SipClient } from 'livekit-server-sdk';
import { parseConfig } from '../src/config/index.js';
import { runCallCommand } from '../src/outbound/call-command.js';
import { liveKitDialer } from '../src/outbound/livekit-dialer.js';

// eslint-disable-next-line no-restricted-properties -- the CLI's single read of the environment
const livekit = parseConfig(process.env).livekit;
const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());

runCallCommand(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  dialer: liveKitDialer(livekit),
  outboundTrunkNames: async () =>
    (
      await new SipClient(livekit.url, livekit.apiKey, livekit.apiSecret).listSipOutboundTrunk()
    ).map((t) => t.name),
  signal: interrupted.signal,
}).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
