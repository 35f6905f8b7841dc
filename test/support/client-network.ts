/**
 * A browser user behind a restrictive network, on this machine: a network namespace of its own for
 * Chromium, joined to the stack's namespace by its own veth pair in its own subnet, with an
 * nftables firewall that the test sets. Nothing is routed anywhere but to the stack's subnet.
 *
 *   client namespace (sb-client)             stack namespace (switchboard)
 *   sb-cli-c 10.78.0.2/24  <── veth ──>  sb-cli-s 10.78.0.1/24     sb-ns 10.77.0.2 (the services)
 *   route 10.77.0.0/24 via 10.78.0.1
 *
 * The stack's services are addresses of the stack namespace itself, so a packet from the client
 * is delivered locally there and the answer goes back over the connected 10.78.0.0/24: no
 * forwarding is switched on anywhere. Every command names the namespace it acts in (`ip -n`,
 * `ip netns exec`), so this works from the host and from inside the stack's namespace, where the
 * tests run: there `ip netns add` mounts the new namespace in the test's own mount namespace
 * (`ip netns exec` made it a slave of the host's), which the Chromium this file launches inherits.
 * When that mount namespace ends with the run, the client namespace and its veth pair go with it;
 * the stale name left under /var/run/netns is removed by the next {@link createClientNetwork}.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { LocalStackLayout } from '../../src/config/index.js';
import { CHROMIUM, launchChromium } from './chromium.js';

const run = promisify(execFile);

/**
 * livekit-server advertises its TURN/TLS listener as `turns:<turn.domain>:443?transport=tcp`
 * whatever `turn.tls_port` says (v1.13.5 pkg/service/roommanager.go iceServersForParticipant), so
 * the listener is on 443 (or a TLS load balancer there forwards to it).
 */
export const TURN_TLS_PORT = 443;

export interface ClientNetwork {
  /** The client's network namespace. */
  name: string;
  /** The stack's network namespace, where the services run. */
  serverNamespace: string;
  /** The veth end in the stack's namespace, and the one in the client's (at most 15 characters). */
  serverInterface: string;
  clientInterface: string;
  /** The veth pair's own /24: the stack's end, then the client's. */
  serverSideIp: string;
  clientIp: string;
  /** The stack's subnet, routed through the pair: the services' addresses. */
  stackSubnet: string;
  /** The stack's service address: the page, the signalling URL and (by name) the TURN server. */
  serviceIp: string;
  /** Names the client resolves (its /etc/hosts, through /etc/netns/<name>/hosts): name -> address. */
  hosts: Record<string, string>;
  /** TCP ports the restrictive firewalls let out besides TURN/TLS: signalling and the page. */
  ports: { signalling: number; web: number };
}

/** The client network of the stack in `layout` (netns mode): `sb-client` in 10.78.0.0/24. */
export function clientNetworkFor(
  layout: LocalStackLayout,
  turnDomain: string,
  overrides: Partial<ClientNetwork> = {},
): ClientNetwork {
  if (layout.namespace === undefined)
    throw new Error(
      'a client network needs the namespace layout (SWITCHBOARD_NETWORK=netns): on loopback there is no network to put a firewall between',
    );
  return {
    name: 'sb-client',
    serverNamespace: layout.namespace,
    serverInterface: 'sb-cli-s',
    clientInterface: 'sb-cli-c',
    serverSideIp: '10.78.0.1',
    clientIp: '10.78.0.2',
    stackSubnet: `${layout.serviceIp.split('.').slice(0, 3).join('.')}.0/24`,
    serviceIp: layout.serviceIp,
    hosts: { [turnDomain]: layout.serviceIp },
    ports: { signalling: layout.ports.livekitHttp, web: layout.ports.web },
    ...overrides,
  };
}

/** The page's URL from the client: the stack's address (not localhost, which is the client itself). */
export function clientPageUrl(net: ClientNetwork): string {
  return `http://${net.serviceIp}:${net.ports.web}/`;
}

/**
 * Creates the namespace, the veth pair, the route, the hosts file and an open firewall (no rule).
 * Whatever an interrupted run left under these names is removed first.
 */
export async function createClientNetwork(net: ClientNetwork): Promise<void> {
  await deleteClientNetwork(net);
  const s = ['ip', '-n', net.serverNamespace];
  const c = ['ip', '-n', net.name];
  const steps: string[][] = [
    ['ip', 'netns', 'add', net.name],
    // Made in the stack's namespace, with its peer created straight in the client's.
    [...s, 'link', 'add', net.serverInterface, 'type', 'veth', 'peer', 'name', net.clientInterface],
    [...s, 'link', 'set', net.clientInterface, 'netns', net.name],
    // IPv6 off: no link-local candidates, no router solicitations (as the stack's own pair).
    [
      'ip',
      'netns',
      'exec',
      net.name,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ],
    [
      'ip',
      'netns',
      'exec',
      net.serverNamespace,
      'sysctl',
      '-qw',
      `net.ipv6.conf.${net.serverInterface}.disable_ipv6=1`,
    ],
    [...s, 'addr', 'add', `${net.serverSideIp}/24`, 'dev', net.serverInterface],
    [...s, 'link', 'set', net.serverInterface, 'up'],
    [...c, 'addr', 'add', `${net.clientIp}/24`, 'dev', net.clientInterface],
    [...c, 'link', 'set', net.clientInterface, 'up'],
    [...c, 'link', 'set', 'lo', 'up'],
    [...c, 'route', 'add', net.stackSubnet, 'via', net.serverSideIp],
  ];
  try {
    for (const [cmd, ...args] of steps) await run(cmd ?? '', args);
    const etc = join('/etc/netns', net.name);
    await mkdir(etc, { recursive: true });
    await writeFile(
      join(etc, 'hosts'),
      [
        '127.0.0.1 localhost',
        ...Object.entries(net.hosts).map(([name, ip]) => `${ip} ${name}`),
        '',
      ].join('\n'),
    );
  } catch (err) {
    await deleteClientNetwork(net);
    throw new Error(`could not create the client network ${net.name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Removes the namespace (its veth end, and with it the stack's end) and its hosts file. Safe when
 * none of it exists. A process still running inside keeps the namespace alive until it exits;
 * this never ends processes.
 */
export async function deleteClientNetwork(net: ClientNetwork): Promise<void> {
  await run('ip', ['-n', net.serverNamespace, 'link', 'delete', net.serverInterface]).catch(
    () => undefined,
  );
  await run('ip', ['netns', 'delete', net.name]).catch(() => undefined);
  await rm(join('/etc/netns', net.name), { recursive: true, force: true });
}

/**
 * The client's firewall (its own nftables table, replaced in one transaction):
 * - `open`: no rule, a home network where UDP works.
 * - `turn-only`: the corporate firewall of the issue: out, TCP to the signalling port, the page's
 *   port and the TURN/TLS port (443) only; no UDP at all and no TCP to ICE/TCP (7881), so neither
 *   direct path works; in, answers to what went out. Everything else is dropped, not refused, as
 *   such firewalls do, so a blocked path times out.
 * - `no-turn`: the same without 443: nothing carries media.
 */
export type ClientFirewall = 'open' | 'turn-only' | 'no-turn';

const FIREWALL_TABLE = 'switchboard_client';

export async function setClientFirewall(
  net: ClientNetwork,
  firewall: ClientFirewall,
): Promise<void> {
  // Declaring the table first makes the delete succeed whether or not it existed.
  const lines = [`table inet ${FIREWALL_TABLE} {}`, `delete table inet ${FIREWALL_TABLE}`];
  if (firewall !== 'open') {
    const tcpPorts = [
      net.ports.signalling,
      net.ports.web,
      ...(firewall === 'turn-only' ? [TURN_TLS_PORT] : []),
    ];
    lines.push(
      `table inet ${FIREWALL_TABLE} {`,
      '  chain output {',
      '    type filter hook output priority filter; policy drop;',
      '    oifname "lo" accept',
      `    tcp dport { ${tcpPorts.join(', ')} } accept`,
      '  }',
      '  chain input {',
      '    type filter hook input priority filter; policy drop;',
      '    iifname "lo" accept',
      '    ct state { established, related } accept',
      '  }',
      '}',
    );
  }
  await runWithInput(['ip', 'netns', 'exec', net.name, 'nft', '-f', '-'], lines.join('\n') + '\n');
}

/** The client firewall's rules as nft prints them (for a failure message). */
export async function clientFirewallRules(net: ClientNetwork): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', net.name, 'nft', 'list', 'ruleset']);
  return stdout;
}

/** The command prefix that runs a program inside the client network. */
export function inClientNetwork(net: ClientNetwork, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', net.name, ...argv];
}

export interface ClientChromiumOptions {
  /** The fake microphone's WAV file. */
  micWav: string;
  /**
   * base64 SHA-256 SubjectPublicKeyInfo hashes whose certificates Chromium accepts although no
   * CA it knows signed them: the local TURN server's. Chromium checks a TURN/TLS server's
   * certificate like an HTTPS server's (the TLS socket comes from the same network stack).
   */
  trustSpkiSha256?: string[];
}

/**
 * Debian's Chromium (with the flags of test/support/chromium.ts) started inside the client network:
 * playwright-core launches a two-line wrapper that `exec`s `ip netns exec <name> chromium`, so the
 * browser keeps the wrapper's pid and the pipe playwright drives it through. The page is served
 * from the stack's address over plain http, which is not a secure context (no microphone), so that
 * one origin is declared secure, as localhost is.
 */
export async function launchChromiumInClientNetwork(
  net: ClientNetwork,
  opts: ClientChromiumOptions,
): Promise<Browser> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-client-chromium-'));
  const wrapper = join(dir, 'chromium');
  await writeFile(wrapper, `#!/bin/sh\nexec ${inClientNetwork(net, [CHROMIUM]).join(' ')} "$@"\n`);
  await chmod(wrapper, 0o755);
  const origin = new URL(clientPageUrl(net)).origin;
  try {
    const browser = await launchChromium(opts.micWav, {
      executablePath: wrapper,
      extraArgs: [
        `--unsafely-treat-insecure-origin-as-secure=${origin}`,
        ...(opts.trustSpkiSha256 === undefined || opts.trustSpkiSha256.length === 0
          ? []
          : [`--ignore-certificate-errors-spki-list=${opts.trustSpkiSha256.join(',')}`]),
      ],
    });
    browser.on('disconnected', () => void rm(dir, { recursive: true, force: true }));
    return browser;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// --- What path the browser's media took -------------------------------------------------------

/** One end of the selected ICE candidate pair, from RTCPeerConnection.getStats(). */
export interface IceCandidateInfo {
  /** host, srflx, prflx or relay. */
  candidateType: string;
  /** udp or tcp: the candidate's own transport (a relay candidate's relayed address is udp). */
  protocol: string;
  /** relay candidates: how the browser reaches the TURN server (udp, tcp or tls). */
  relayProtocol?: string;
  address?: string;
  port?: number;
  /** relay candidates: the TURN URL it was allocated through. */
  url?: string;
}

export interface SelectedCandidatePair {
  local: IceCandidateInfo;
  remote: IceCandidateInfo;
  bytesReceived: number;
  bytesSent: number;
}

declare global {
  interface Window {
    /** Every RTCPeerConnection the page created. */
    switchboardPeerConnections?: RTCPeerConnection[];
  }
}

/**
 * Keeps every RTCPeerConnection the page creates (livekit-client keeps its own private), so
 * the test can ask one for its stats. Call before `page.goto`.
 */
export async function recordPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const created: RTCPeerConnection[] = [];
    window.switchboardPeerConnections = created;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        created.push(this);
      }
    };
  });
}

/**
 * The ICE server URLs the page's peer connections use: livekit-client sets them from the server's
 * join response (setConfiguration), after creating the connection.
 */
export async function iceServerUrls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (window.switchboardPeerConnections ?? []).flatMap((pc) =>
      (pc.getConfiguration().iceServers ?? []).flatMap((s) =>
        typeof s.urls === 'string' ? [s.urls] : s.urls,
      ),
    ),
  );
}

/**
 * The selected candidate pair of the page's connected peer connection (the transport's
 * `selectedCandidatePairId`), or undefined if none is connected.
 */
export async function selectedCandidatePair(
  page: Page,
): Promise<SelectedCandidatePair | undefined> {
  // No function constants in here: a transpiler that keeps function names wraps them in a helper
  // that does not exist in the page.
  return page.evaluate(async () => {
    for (const pc of window.switchboardPeerConnections ?? []) {
      if (pc.connectionState !== 'connected') continue;
      // RTCStatsReport's own forEach: this project's DOM typings have no Map iterators.
      const stats = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((s: Record<string, unknown>, id: string) => stats.set(id, s));
      for (const s of stats.values()) {
        if (s.type !== 'transport' || typeof s.selectedCandidatePairId !== 'string') continue;
        const pair = stats.get(s.selectedCandidatePairId);
        if (pair === undefined) continue;
        const [local, remote] = [pair.localCandidateId, pair.remoteCandidateId]
          .map((id) => stats.get(String(id)) ?? {})
          .map((c) => ({
            candidateType: String(c.candidateType),
            protocol: String(c.protocol),
            ...(typeof c.relayProtocol === 'string' ? { relayProtocol: c.relayProtocol } : {}),
            ...(typeof c.address === 'string' ? { address: c.address } : {}),
            ...(typeof c.port === 'number' ? { port: c.port } : {}),
            ...(typeof c.url === 'string' ? { url: c.url } : {}),
          }));
        if (local === undefined || remote === undefined) continue;
        return {
          local,
          remote,
          bytesReceived: Number(pair.bytesReceived ?? 0),
          bytesSent: Number(pair.bytesSent ?? 0),
        };
      }
    }
    return undefined;
  });
}

async function runWithInput(argv: string[], input: string): Promise<void> {
  const [cmd, ...args] = argv;
  await new Promise<void>((resolve, reject) => {
    const child = execFile(cmd ?? '', args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(input);
  });
}
