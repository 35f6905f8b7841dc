import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LocalStackLayout } from '../src/config/index.js';
import { SwitchboardError } from '../src/errors/index.js';

const run = promisify(execFile);

/**
 * The stack's network namespace: a veth pair whose namespace end holds the service address and
 * whose host end lets a softphone or browser on this machine reach it. The namespace has no
 * default route, so nothing started inside it can send anywhere but to itself and the host end.
 * libwebrtc ignores loopback interfaces, which is why a plain `lo` is not enough.
 */
const HOST_IF = 'sb-host';
const NS_IF = 'sb-ns';

export async function namespaceExists(name: string): Promise<boolean> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').some((line) => line.split(' ')[0] === name);
}

export async function namespacePids(name: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', name]);
  return stdout.split('\n').filter(Boolean).map(Number);
}

export async function createNamespace(layout: LocalStackLayout): Promise<void> {
  const ns = requireNamespace(layout);
  if (process.getuid?.() !== 0) {
    throw new SwitchboardError(
      'stack_needs_root',
      'Creating the stack network namespace needs root. Run as root (or with sudo), or run the stack on loopback with SWITCHBOARD_NETWORK=loopback (see README).',
    );
  }
  // A host end without its namespace is what an interrupted run leaves behind.
  await run('ip', ['link', 'delete', HOST_IF]).catch(() => undefined);
  const steps: string[][] = [
    ['ip', 'netns', 'add', ns],
    ['ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF],
    ['ip', 'link', 'set', NS_IF, 'netns', ns],
    ['ip', 'addr', 'add', `${layout.hostIp ?? ''}/24`, 'dev', HOST_IF],
    // IPv6 off on both ends: no link-local candidates, no router solicitations on the link.
    ['sysctl', '-qw', `net.ipv6.conf.${HOST_IF}.disable_ipv6=1`],
    ['ip', 'link', 'set', HOST_IF, 'up'],
    [
      'ip',
      'netns',
      'exec',
      ns,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ],
    ['ip', '-n', ns, 'addr', 'add', `${layout.serviceIp}/24`, 'dev', NS_IF],
    ['ip', '-n', ns, 'link', 'set', NS_IF, 'up'],
    ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
  ];
  try {
    for (const [cmd, ...args] of steps) await run(cmd ?? '', args);
  } catch (err) {
    await deleteNamespace(layout).catch(() => undefined);
    throw new SwitchboardError(
      'stack_start_failed',
      `Could not create network namespace ${ns}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Deleting the namespace destroys its veth end, and with it the host end. */
export async function deleteNamespace(layout: LocalStackLayout): Promise<void> {
  const ns = requireNamespace(layout);
  if (await namespaceExists(ns)) await run('ip', ['netns', 'delete', ns]);
  await run('ip', ['link', 'delete', HOST_IF]).catch(() => undefined);
}

/** The command prefix that runs a program inside the stack's network. */
export function inNetwork(layout: LocalStackLayout, argv: string[]): string[] {
  return layout.mode === 'netns'
    ? ['ip', 'netns', 'exec', requireNamespace(layout), ...argv]
    : argv;
}

function requireNamespace(layout: LocalStackLayout): string {
  if (layout.namespace === undefined) throw new Error('the loopback layout has no namespace');
  return layout.namespace;
}

/**
 * Gives the namespace end of the veth pair one more address in the stack's /24: a further LiveKit
 * node's. Idempotent, so a stack brought up again after an interrupted run reuses it.
 */
export async function addNamespaceAddress(layout: LocalStackLayout, ip: string): Promise<void> {
  const ns = requireNamespace(layout);
  if (await hasNamespaceAddress(ns, ip)) return;
  try {
    await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', NS_IF]);
  } catch (err) {
    throw new SwitchboardError(
      'stack_start_failed',
      `Could not add address ${ip} to ${NS_IF} in namespace ${ns}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function removeNamespaceAddress(layout: LocalStackLayout, ip: string): Promise<void> {
  const ns = requireNamespace(layout);
  if (!(await hasNamespaceAddress(ns, ip))) return;
  await run('ip', ['-n', ns, 'addr', 'del', `${ip}/24`, 'dev', NS_IF]);
}

async function hasNamespaceAddress(ns: string, ip: string): Promise<boolean> {
  const { stdout } = await run('ip', ['-n', ns, '-o', '-4', 'addr', 'show', 'dev', NS_IF]);
  return stdout.split('\n').some((line) => line.includes(` ${ip}/`));
}
