/**
 * The `npm run sip` process edge: the one place sip-dispatch reads the environment. LiveKit's URL
 * and keys come through the project's config layer, which reads .env.local as the worker does
 * (local stack by default; LiveKit Cloud with LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET);
 * passwords by the variable names the config gives, also from .env.local.
 */
import { loadConfig } from '../src/config/index.js';
import { runSipCommand } from './cli.js';
import { LivekitSipApi } from './livekit-sip-api.js';

async function main(): Promise<number> {
  // First: it loads .env.local into the environment read below.
  const livekit = loadConfig().livekit;
  // eslint-disable-next-line no-restricted-properties -- the CLI's single read of the environment
  const env = process.env;
  return runSipCommand(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    color: process.stdout.isTTY && (env.NO_COLOR ?? '') === '',
    secret: (name) => env[name],
    connect: () => new LivekitSipApi(livekit),
    serverLabel: livekit.url,
  });
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
