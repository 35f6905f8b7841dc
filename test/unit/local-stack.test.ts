import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LOCAL_API_KEY, LOCAL_API_SECRET, localStackLayout } from '../../src/config/index.js';
import { livekitConfigFor, sipConfigFor } from '../../stack/configs.js';

const livekitYaml = readFileSync('livekit.yaml', 'utf8');
const sipYaml = readFileSync('stack/sip.yaml', 'utf8');

describe('the stack configuration files', () => {
  const netns = localStackLayout('netns');
  it('agree with the layout the code uses', () => {
    const lk = parse(livekitYaml) as Record<string, any>;
    const sip = parse(sipYaml) as Record<string, any>;
    expect(lk.keys).toEqual({ [LOCAL_API_KEY]: LOCAL_API_SECRET });
    expect([sip.api_key, sip.api_secret]).toEqual([LOCAL_API_KEY, LOCAL_API_SECRET]);
    expect(lk.rtc.node_ip).toBe(netns.serviceIp);
    expect(lk.port).toBe(netns.ports.livekitHttp);
    expect(lk.rtc.udp_port).toBe(netns.ports.livekitRtcUdp);
    expect(lk.redis.address).toBe(`127.0.0.1:${netns.ports.redis}`);
    expect(sip.redis.address).toBe(`127.0.0.1:${netns.ports.redis}`);
    expect([sip.listen_ip, sip.nat_1_to_1_ip]).toEqual([netns.serviceIp, netns.serviceIp]);
    expect(sip.ws_url).toBe(`ws://${netns.serviceIp}:${netns.ports.livekitHttp}`);
  });

  it('never ask for the external IP (that contacts public STUN servers)', () => {
    expect(parse(livekitYaml).rtc.use_external_ip).toBe(false);
    expect(parse(sipYaml).use_external_ip).toBe(false);
  });

  it('are rewritten to loopback addresses, keeping comments, for the loopback layout', () => {
    const loop = localStackLayout('loopback');
    const lk = livekitConfigFor(loop, livekitYaml);
    const sip = sipConfigFor(loop, sipYaml);
    expect(parse(lk)).toMatchObject({
      bind_addresses: ['127.0.0.1'],
      rtc: {
        node_ip: '127.0.0.1',
        enable_loopback_candidate: true,
        ips: { includes: ['127.0.0.1/32'] },
      },
    });
    expect(parse(sip)).toMatchObject({
      listen_ip: '127.0.0.1',
      nat_1_to_1_ip: '127.0.0.1',
      ws_url: 'ws://127.0.0.1:7880',
    });
    expect(lk).toContain('# Redis is required for SIP');
    expect(lk).not.toContain('10.77.0.2');
    expect(sip).not.toContain('10.77.0.2');
  });
});
