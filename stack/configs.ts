import { parseDocument } from 'yaml';
import type { LocalStackLayout } from '../src/config/index.js';

/**
 * livekit.yaml and stack/sip.yaml are written for the namespace layout. For the loopback layout
 * (a laptop without root) the stack writes copies whose addresses are rewritten here; comments
 * are kept so the copies read like the originals.
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
