import { parseDocument } from 'yaml';
import type { LocalStackLayout } from '../src/config/index.js';
import type { StackNode } from './topology.js';

/**
 * livekit.yaml and stack/sip.yaml are written for node 1 of the namespace layout. For the
 * loopback layout (a laptop without root) and for the other nodes of a multi-node stack, the
 * stack writes copies whose addresses and ports are rewritten here; comments are kept so the
 * copies read like the originals.
 */
export function livekitConfigFor(layout: LocalStackLayout, base: string): string {
  if (layout.mode === 'netns') return base;
  const doc = parseDocument(base);
  doc.setIn(['bind_addresses'], [layout.serviceIp]);
  doc.setIn(['rtc', 'node_ip'], layout.serviceIp);
  doc.setIn(['rtc', 'ips', 'includes'], [`${layout.serviceIp}/32`]);
  // pion skips loopback interfaces unless told otherwise.
  doc.setIn(['rtc', 'enable_loopback_candidate'], true);
  doc.setIn(['rtc', 'stun_servers'], [`${layout.serviceIp}:3478`]);
  // TURN/TLS needs port 443, so root, which the loopback layout is for doing without.
  doc.setIn(['turn', 'enabled'], false);
  doc.setIn(['turn', 'bind_addresses'], [layout.serviceIp]);
  doc.setIn(['turn', 'allow_restricted_peer_cidrs'], [`${layout.serviceIp}/32`]);
  return doc.toString();
}

export function sipConfigFor(layout: LocalStackLayout, base: string): string {
  if (layout.mode === 'netns') return base;
  const doc = parseDocument(base);
  doc.setIn(['ws_url'], `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`);
  doc.setIn(['listen_ip'], layout.serviceIp);
  doc.setIn(['nat_1_to_1_ip'], layout.serviceIp);
  return doc.toString();
}

/** livekit.yaml for another node: its own address and ICE ports, the same Redis and keys. */
export function livekitNodeConfig(node: StackNode, base: string): string {
  const doc = parseDocument(base);
  doc.setIn(['port'], node.ports.livekitHttp);
  doc.setIn(['bind_addresses'], [node.ip]);
  doc.setIn(['rtc', 'tcp_port'], node.ports.livekitRtcTcp);
  doc.setIn(['rtc', 'udp_port'], node.ports.livekitRtcUdp);
  doc.setIn(['rtc', 'node_ip'], node.ip);
  doc.setIn(['rtc', 'ips', 'includes'], [`${node.ip}/32`]);
  doc.setIn(['rtc', 'stun_servers'], [`${node.ip}:3478`]);
  // TURN runs on node 1 only (test/e2e/browser-turn.test.ts uses it there): a second listener would
  // need its own domain and relay range, and this node's own addresses where node 1's are written.
  doc.setIn(['turn', 'enabled'], false);
  doc.setIn(['turn', 'bind_addresses'], [node.ip]);
  doc.setIn(['turn', 'allow_restricted_peer_cidrs'], [`${node.ip}/32`]);
  return doc.toString();
}

/** stack/sip.yaml for another node: listens on its address, signals through its livekit-server. */
export function sipNodeConfig(node: StackNode, base: string): string {
  const doc = parseDocument(base);
  doc.setIn(['ws_url'], `ws://${node.ip}:${node.ports.livekitHttp}`);
  doc.setIn(['sip_port'], node.ports.sip);
  doc.setIn(['listen_ip'], node.ip);
  doc.setIn(['nat_1_to_1_ip'], node.ip);
  doc.setIn(['rtp_port'], `${node.ports.rtpFirst}-${node.ports.rtpLast}`);
  return doc.toString();
}
