import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { localStackLayout } from '../../src/config/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';
import { livekitNodeConfig, sipNodeConfig } from '../../stack/configs.js';
import {
  MAX_STACK_NODES,
  parseNodeCount,
  stackNode,
  stackNodes,
  takeNodesOption,
} from '../../stack/topology.js';

const netns = localStackLayout('netns');
const livekitYaml = readFileSync('livekit.yaml', 'utf8');
const sipYaml = readFileSync('stack/sip.yaml', 'utf8');

describe('the stack nodes', () => {
  it.each([
    [1, '10.77.0.2', 'livekit-server', 'livekit-sip', 7881, 7882, 10_000, 10_999],
    [2, '10.77.0.3', 'livekit-server-2', 'livekit-sip-2', 7891, 7892, 11_000, 11_999],
    [4, '10.77.0.5', 'livekit-server-4', 'livekit-sip-4', 7911, 7912, 13_000, 13_999],
  ])(
    'node %i: %s, %s and %s, ICE %i/%i, RTP %i-%i',
    (index, ip, server, sip, tcp, udp, first, last) => {
      const node = stackNode(netns, index);
      expect(node).toMatchObject({ index, ip, serverName: server, sipName: sip });
      expect(node.ports).toEqual({
        livekitHttp: 7880,
        livekitRtcTcp: tcp,
        livekitRtcUdp: udp,
        sip: 5060,
        rtpFirst: first,
        rtpLast: last,
      });
    },
  );

  it('node 1 is the committed single-node stack (livekit.yaml and stack/sip.yaml)', () => {
    const node = stackNode(netns, 1);
    const livekit = parseDocument(livekitYaml);
    const sip = parseDocument(sipYaml);
    expect(livekit.getIn(['rtc', 'node_ip'])).toBe(node.ip);
    expect(livekit.getIn(['rtc', 'tcp_port'])).toBe(node.ports.livekitRtcTcp);
    expect(livekit.getIn(['rtc', 'udp_port'])).toBe(node.ports.livekitRtcUdp);
    expect(sip.getIn(['rtp_port'])).toBe(`${node.ports.rtpFirst}-${node.ports.rtpLast}`);
  });

  it.each([0, MAX_STACK_NODES + 1, 1.5])('node %s does not exist', (index) => {
    expect(() => stackNode(netns, index)).toThrow(/nodes 1 to 4/);
  });

  it('more than one node needs the namespace layout', () => {
    expect(stackNodes(localStackLayout('loopback'), 1)).toHaveLength(1);
    expect(() => stackNodes(localStackLayout('loopback'), 2)).toThrow(/namespace layout/);
  });
});

describe("another node's configuration", () => {
  const node = stackNode(netns, 2);

  it('livekit-server: its own address and ICE ports, the same Redis and keys as node 1', () => {
    const base = parseDocument(livekitYaml);
    const doc = parseDocument(livekitNodeConfig(node, livekitYaml));
    const json = doc.toJS() as { bind_addresses: string[]; rtc: { ips: { includes: string[] } } };
    expect(json.bind_addresses).toEqual(['10.77.0.3']);
    expect(json.rtc.ips.includes).toEqual(['10.77.0.3/32']);
    expect(doc.getIn(['rtc', 'node_ip'])).toBe('10.77.0.3');
    expect(doc.getIn(['rtc', 'tcp_port'])).toBe(7891);
    expect(doc.getIn(['rtc', 'udp_port'])).toBe(7892);
    expect(doc.getIn(['redis', 'address'])).toBe(base.getIn(['redis', 'address']));
    expect(doc.toJS().keys).toEqual(base.toJS().keys);
    // Comments stay, so the copy reads like the original.
    expect(livekitNodeConfig(node, livekitYaml)).toContain('# TCP port for HTTP');
  });

  it('livekit-sip: listens on its address and joins rooms through its own livekit-server', () => {
    const doc = parseDocument(sipNodeConfig(node, sipYaml));
    expect(doc.getIn(['ws_url'])).toBe('ws://10.77.0.3:7880');
    expect(doc.getIn(['listen_ip'])).toBe('10.77.0.3');
    expect(doc.getIn(['nat_1_to_1_ip'])).toBe('10.77.0.3');
    expect(doc.getIn(['rtp_port'])).toBe('11000-11999');
    expect(doc.getIn(['redis', 'address'])).toBe(
      parseDocument(sipYaml).getIn(['redis', 'address']),
    );
  });
});

describe('--nodes', () => {
  it.each<[string[], number | undefined, string[]]>([
    [['up'], undefined, ['up']],
    [['--nodes', '2'], 2, []],
    [['--nodes=3'], 3, []],
    [['--nodes', '2', '--', 'vitest', '--nodes', '9'], 2, ['--', 'vitest', '--nodes', '9']],
    [['--', 'cmd', '--nodes', '9'], undefined, ['--', 'cmd', '--nodes', '9']],
  ])('%j: %s nodes, leaving %j', (args, nodes, rest) => {
    expect(takeNodesOption(args)).toEqual({ nodes, rest });
  });

  it.each(['0', 'two', '', undefined, '5'])('"%s" is refused with an example', (value) => {
    let error: unknown;
    try {
      parseNodeCount(value);
    } catch (err) {
      error = err;
    }
    expect(isSwitchboardError(error) && error.code).toBe('stack_options_invalid');
    expect(String(error)).toMatch(/npm run stack -- up --nodes 2|use 1 to 4/);
  });
});
