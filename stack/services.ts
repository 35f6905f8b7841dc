import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalStackLayout } from '../src/config/index.js';
import { livekitConfigFor, livekitNodeConfig, sipConfigFor, sipNodeConfig } from './configs.js';
import { httpOk, sipOptionsOk } from './health.js';
import { mediaPriority } from './media-priority.js';
import { inNetwork } from './network.js';
import { BINARIES, REDIS_DATA_DIR, REPO_ROOT, STACK_DIR } from './paths.js';
import { stackNodes, type StackNode } from './topology.js';
import { turnCertificateFiles } from './turn-certificate.js';

const run = promisify(execFile);

export interface ServiceSpec {
  name: string;
  argv: string[];
  ready: () => Promise<boolean>;
  /** livekit-sip waits for active calls on SIGTERM; SIGINT ends it at once. */
  stopSignal: NodeJS.Signals;
  readyTimeoutMs: number;
  /** Runs in the host's network, not the stack's (the localhost forwarder). */
  hostNetwork?: boolean;
}

/**
 * The stack's services, in start order: node 1's LiveKit services, then the other nodes' (when
 * `nodes` > 1), then the speech server and the web page.
 */
export async function stackServices(layout: LocalStackLayout, nodes = 1): Promise<ServiceSpec[]> {
  const ip = layout.serviceIp;
  // The SIP probe binds its source address: the host end of the veth pair from the host, but the
  // service address when this process runs inside the namespace (a test restarting livekit-sip),
  // where the host end's address does not exist.
  const inside = layout.namespace !== undefined && (await insideNamespace(layout.namespace));
  const probeFrom = inside ? ip : (layout.hostIp ?? ip);
  const tsx = (script: string, ...args: string[]) => [
    process.execPath,
    '--import',
    'tsx',
    join(REPO_ROOT, script),
    ...args,
  ];
  return [
    {
      name: 'redis',
      argv: redisArgv(layout.ports.redis, REDIS_DATA_DIR),
      ready: async () => {
        try {
          const { stdout } = await run(inNetwork(layout, ['redis-cli'])[0] ?? '', [
            ...inNetwork(layout, ['redis-cli']).slice(1),
            '-h',
            '127.0.0.1',
            '-p',
            String(layout.ports.redis),
            'ping',
          ]);
          return stdout.trim() === 'PONG';
        } catch {
          return false;
        }
      },
      stopSignal: 'SIGTERM',
      readyTimeoutMs: 10_000,
    },
    ...(
      await Promise.all(
        stackNodes(layout, nodes).map((node) => nodeServices(layout, node, probeFrom)),
      )
    ).flat(),
    {
      name: 'offline-speech',
      argv: tsx(
        'stack/offline-speech/main.ts',
        '--host',
        ip,
        '--port',
        String(layout.ports.speech),
      ),
      ready: () => httpOk(`http://${ip}:${layout.ports.speech}/health`),
      stopSignal: 'SIGTERM',
      readyTimeoutMs: 30_000,
    },
    {
      name: 'web',
      argv: tsx(
        'web/server.ts',
        '--host',
        ip,
        ...(ip === '127.0.0.1' ? [] : ['--host', '127.0.0.1']),
        '--port',
        String(layout.ports.web),
      ),
      ready: () => httpOk(`http://${ip}:${layout.ports.web}/health`),
      stopSignal: 'SIGTERM',
      readyTimeoutMs: 30_000,
    },
    ...(layout.mode === 'netns'
      ? [
          {
            // A browser on this machine opens http://localhost:<web port>/ (a secure context, so it
            // may use the microphone); this forwards it to the page inside the namespace.
            name: 'web-localhost',
            argv: tsx(
              'stack/forward.ts',
              '--listen',
              `127.0.0.1:${layout.ports.web}`,
              '--to',
              `${ip}:${layout.ports.web}`,
            ),
            ready: () => httpOk(`http://127.0.0.1:${layout.ports.web}/health`),
            stopSignal: 'SIGTERM' as const,
            readyTimeoutMs: 30_000,
            hostNetwork: true,
          },
        ]
      : []),
  ];
}

/** One LiveKit node: its livekit-server, then the livekit-sip that signals through it. */
async function nodeServices(
  layout: LocalStackLayout,
  node: StackNode,
  probeFrom: string,
): Promise<ServiceSpec[]> {
  const suffix = node.index === 1 ? '' : `-${node.index}`;
  const livekitConfig = await materialize(
    layout,
    `livekit${suffix}.yaml`,
    join(REPO_ROOT, 'livekit.yaml'),
    node.index === 1
      ? (base) => livekitConfigFor(layout, base)
      : (base) => livekitNodeConfig(node, base),
    node.index === 1,
  );
  const sipConfig = await materialize(
    layout,
    `sip${suffix}.yaml`,
    join(REPO_ROOT, 'stack', 'sip.yaml'),
    node.index === 1 ? (base) => sipConfigFor(layout, base) : (base) => sipNodeConfig(node, base),
    node.index === 1,
  );
  // Node 1 of the namespace layout runs livekit.yaml's TURN server; `up` makes its certificate
  // (stack/turn-certificate.ts) before anything starts. Flags rather than livekit.yaml keys, so
  // the committed file names no path of this checkout.
  const turn = turnCertificateFiles();
  const turnFlags =
    layout.mode === 'netns' && node.index === 1
      ? ['--turn-cert', turn.certFile, '--turn-key', turn.keyFile]
      : [];
  return [
    {
      name: node.serverName,
      argv: [BINARIES.livekitServer, '--config', livekitConfig, ...turnFlags],
      ready: () => httpOk(`http://${node.ip}:${node.ports.livekitHttp}/`, 'OK'),
      stopSignal: 'SIGTERM',
      readyTimeoutMs: 30_000,
    },
    {
      name: node.sipName,
      argv: [...(await mediaPriority()).prefix, BINARIES.livekitSip, '--config', sipConfig],
      ready: () => sipOptionsOk(node.ip, node.ports.sip, probeFrom),
      stopSignal: 'SIGINT',
      readyTimeoutMs: 30_000,
    },
  ];
}

/**
 * Its own port, the namespace's loopback only (nothing outside the stack can reach it), and an
 * append-only file in `dataDir`, as a production deployment keeps trunks and dispatch rules
 * across a Redis restart. `up` empties `dataDir` first, so one run's data never leaks into the
 * next. `always` writes and fsyncs each write before Redis replies, so a test that creates a
 * trunk and then SIGKILLs Redis finds the trunk afterwards. With `everysec` Redis postpones the
 * write itself (not only the fsync) for up to 2 s while a background fsync is still running, and
 * a kill in that window loses writes it has already acknowledged. The stack writes little, so an
 * fsync per write costs nothing noticeable. No RDB snapshots (`--save ''`): Redis loads the
 * append-only file alone on start.
 */
export function redisArgv(port: number, dataDir: string): string[] {
  return [
    'redis-server',
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
  ];
}

/**
 * Whether this process runs inside the named network namespace: the same check as
 * `ip netns identify` (the namespace file `ip netns add` bind-mounts is the same nsfs inode).
 */
export async function insideNamespace(name: string): Promise<boolean> {
  try {
    const [self, named] = await Promise.all([
      stat('/proc/self/ns/net'),
      stat(join(NETNS_RUN_DIR, name)),
    ]);
    return self.dev === named.dev && self.ino === named.ino;
  } catch {
    return false;
  }
}

/** Where `ip netns add` puts a namespace's file (iproute2's NETNS_RUN_DIR). */
const NETNS_RUN_DIR = '/var/run/netns';

/**
 * Node 1 in netns mode uses the committed file as it is; loopback mode and the other nodes a
 * rewritten copy under .stack/.
 */
async function materialize(
  layout: LocalStackLayout,
  name: string,
  source: string,
  rewrite: (base: string) => string,
  committedAsIs: boolean,
): Promise<string> {
  if (layout.mode === 'netns' && committedAsIs) return source;
  const target = join(STACK_DIR, name);
  await mkdir(STACK_DIR, { recursive: true });
  await writeFile(target, rewrite(await readFile(source, 'utf8')));
  return target;
}
