/**
 * The `npm run campaign` process edge: configuration through src/config (LiveKit's URL and keys:
 * the local stack by default), the LiveKit dialer, Ctrl-C. Ctrl-C once: no further call starts,
 * and the calls being dialled are waited for until their outcome is recorded; twice: quit now
 * (the next run records those attempts as interrupted).
 */
import { loadConfig } from '../config/index.js';
import { liveKitDialer } from '../outbound/livekit-dialer.js';
import { runCampaignCommand } from './cli.js';

const stop = new AbortController();
process.on('SIGINT', () => {
  if (stop.signal.aborted) process.exit(130);
  process.stderr.write(
    '[campaign] stopping: no further calls start; waiting for the outcomes of the calls being dialled (Ctrl-C again to quit now)\n',
  );
  stop.abort();
});

runCampaignCommand(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  dialer: () => liveKitDialer(loadConfig().livekit),
  signal: stop.signal,
}).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
