import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the stack keeps things. `.stack/` in the checkout: state, logs, call records. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const STACK_DIR = join(REPO_ROOT, '.stack');
export const LOG_DIR = join(STACK_DIR, 'logs');
export const STATE_FILE = join(STACK_DIR, 'state.json');
export const RECORDS_DIR = join(STACK_DIR, 'records');
/** Redis's append-only file. `up` empties it, so a restart keeps the data and a new run does not. */
export const REDIS_DATA_DIR = join(STACK_DIR, 'redis');

const CACHE =
  process.env.SWITCHBOARD_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'switchboard');

interface VersionEntry {
  version: string;
}
const versions = JSON.parse(
  readFileSync(join(REPO_ROOT, 'stack', 'versions.json'), 'utf8'),
) as Record<'livekitServer' | 'livekitSip', VersionEntry>;

/** Binaries built by stack/install.sh, keyed by version so an upgrade never reuses an old build. */
export const BINARIES = {
  livekitServer: join(CACHE, 'bin', `livekit-server-${versions.livekitServer.version}`),
  livekitSip: join(CACHE, 'bin', `livekit-sip-${versions.livekitSip.version}`),
};
