import type { LocalStackLayout } from '../src/config/index.js';
import { SwitchboardError } from '../src/errors/index.js';

/**
 * The stack's LiveKit nodes. Node 1 is the single-node stack (the committed livekit.yaml and
 * stack/sip.yaml as they are); `up --nodes N` adds nodes 2..N beside it, the way LiveKit scales
 * out: each a livekit-server on its own address sharing the one Redis, with a livekit-sip of its
 * own that signals through that node. Rooms are placed on any node, and workers and SIP services
 * connected to one node serve rooms on the others through Redis.
 */
export interface StackNode {
  /** 1-based. */
  index: number;
  /** The node's own address: its API, ICE candidates, SIP listener and SDP. */
  ip: string;
  /** Service names in the stack's state and logs; node 1's are the single-node names. */
  serverName: string;
  sipName: string;
  ports: {
    livekitHttp: number;
    livekitRtcTcp: number;
    livekitRtcUdp: number;
    sip: number;
    /** livekit-sip's RTP range, inclusive. */
    rtpFirst: number;
    rtpLast: number;
  };
}

/** Enough for failover and rolling-restart tests; each node is ~60 MB of livekit-server and SIP. */
export const MAX_STACK_NODES = 4;

/**
 * Where node `index` lives. Every node has its own address in the namespace's /24, so each keeps
 * the standard HTTP and SIP ports. The ICE ports and RTP range still differ per node: livekit-server
 * binds its ICE/TCP and UDP-mux ports on every address, and a second node on the same port
 * would fail to start.
 */
export function stackNode(layout: LocalStackLayout, index: number): StackNode {
  if (!Number.isInteger(index) || index < 1 || index > MAX_STACK_NODES) {
    throw new SwitchboardError(
      'stack_options_invalid',
      `The stack has nodes 1 to ${MAX_STACK_NODES}, not ${index}. Example: npm run stack -- up --nodes 2`,
    );
  }
  if (index > 1 && layout.mode !== 'netns') {
    throw new SwitchboardError(
      'stack_options_invalid',
      'More than one LiveKit node needs the namespace layout (each node has its own address). Run as root without SWITCHBOARD_NETWORK=loopback.',
    );
  }
  const step = index - 1;
  const base = layout.ports;
  return {
    index,
    ip: index === 1 ? layout.serviceIp : nthAddress(layout.serviceIp, step),
    serverName: index === 1 ? 'livekit-server' : `livekit-server-${index}`,
    sipName: index === 1 ? 'livekit-sip' : `livekit-sip-${index}`,
    ports: {
      livekitHttp: base.livekitHttp,
      livekitRtcTcp: base.livekitRtcTcp + 10 * step,
      livekitRtcUdp: base.livekitRtcUdp + 10 * step,
      sip: base.sip,
      // Node 1's range is stack/sip.yaml's 10000-10999; the others follow, below 20000 (the test
      // peers' ports).
      rtpFirst: 10_000 + 1_000 * step,
      rtpLast: 10_999 + 1_000 * step,
    },
  };
}

export function stackNodes(layout: LocalStackLayout, count: number): StackNode[] {
  return Array.from({ length: count }, (_, i) => stackNode(layout, i + 1));
}

/** The node count `--nodes N` asks for, validated. */
export function parseNodeCount(value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) {
    throw new SwitchboardError(
      'stack_options_invalid',
      `--nodes needs a whole number from 1 to ${MAX_STACK_NODES}, not "${value ?? ''}". Example: npm run stack -- up --nodes 2`,
    );
  }
  const count = Number(value);
  if (count > MAX_STACK_NODES) {
    throw new SwitchboardError(
      'stack_options_invalid',
      `--nodes ${count} is more than the stack's ${MAX_STACK_NODES} nodes; use 1 to ${MAX_STACK_NODES}.`,
    );
  }
  return count;
}

/** `ip` with `step` added to its last octet (10.77.0.2 + 1 = 10.77.0.3). */
function nthAddress(ip: string, step: number): string {
  const octets = ip.split('.').map(Number);
  const last = (octets[3] ?? 0) + step;
  if (octets.length !== 4 || last > 254) throw new Error(`no address ${step} after ${ip}`);
  return [...octets.slice(0, 3), last].join('.');
}

/**
 * Takes `--nodes N` (or `--nodes=N`) out of `args`, before any `--`; undefined when absent (a
 * stack already up keeps its nodes, a new one has one).
 */
export function takeNodesOption(args: string[]): { nodes: number | undefined; rest: string[] } {
  const end = args.indexOf('--');
  const options = end === -1 ? args : args.slice(0, end);
  const i = options.findIndex((a) => a === '--nodes' || a.startsWith('--nodes='));
  if (i === -1) return { nodes: undefined, rest: args };
  const arg = options[i] ?? '';
  const value = arg === '--nodes' ? options[i + 1] : arg.slice('--nodes='.length);
  const rest = [...args];
  rest.splice(i, arg === '--nodes' ? 2 : 1);
  return { nodes: parseNodeCount(value), rest };
}
