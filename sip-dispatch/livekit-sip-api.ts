import {
  AccessToken,
  SipClient,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SIPOutboundTrunkInfo,
} from 'livekit-server-sdk';
import {
  msToSeconds,
  parseMarker,
  type DispatchRuleState,
  type InboundTrunkState,
  type Kind,
  type OutboundTrunkState,
  type ServerObject,
  type ServerState,
  type StateOf,
} from './model.js';
import type { SipApi } from './sip-api.js';

/**
 * The SIP API of a LiveKit server (local or Cloud) through livekit-server-sdk's SipClient: list,
 * update (replace in place, which keeps ID and metadata) and delete. Creates post the protocol's
 * Create*Request with the whole object instead, because the SDK's create helpers cannot set a
 * rule's called and caller numbers or a trunk's max call duration; a create followed by an update
 * would leave a half-made object (and a rule without its numbers can clash with its siblings).
 */
export interface LivekitConnection {
  url: string;
  apiKey: string;
  apiSecret: string;
}

type Json = Record<string, unknown>;

export class LivekitSipApi implements SipApi {
  private readonly sip: SipClient;
  private readonly httpUrl: string;

  constructor(private readonly conn: LivekitConnection) {
    this.httpUrl = conn.url.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
    this.sip = new SipClient(this.httpUrl, conn.apiKey, conn.apiSecret);
  }

  async read(): Promise<ServerState> {
    const [inbound, outbound, rules] = await Promise.all([
      this.sip.listSipInboundTrunk(),
      this.sip.listSipOutboundTrunk(),
      this.sip.listSipDispatchRule(),
    ]);
    const object = <K extends Kind>(
      kind: K,
      serverId: string,
      metadata: string,
      state: StateOf[K],
    ): ServerObject<K> => {
      const marker = parseMarker(metadata);
      return { kind, serverId, ...(marker === undefined ? {} : { marker }), state };
    };
    return {
      inboundTrunks: inbound.map((t) =>
        object('inboundTrunk', t.sipTrunkId, t.metadata, inboundFromJson(t.toJson() as Json)),
      ),
      outboundTrunks: outbound.map((t) =>
        object('outboundTrunk', t.sipTrunkId, t.metadata, outboundFromJson(t.toJson() as Json)),
      ),
      dispatchRules: rules.map((r) =>
        object('dispatchRule', r.sipDispatchRuleId, r.metadata, ruleFromJson(r.toJson() as Json)),
      ),
    };
  }

  async create<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Promise<string> {
    const body = toJson(kind, state, metadata);
    switch (kind) {
      case 'inboundTrunk':
        return idOf(await this.twirp('CreateSIPInboundTrunk', { trunk: body }), 'sipTrunkId');
      case 'outboundTrunk':
        return idOf(await this.twirp('CreateSIPOutboundTrunk', { trunk: body }), 'sipTrunkId');
      default:
        return idOf(
          await this.twirp('CreateSIPDispatchRule', { dispatchRule: body }),
          'sipDispatchRuleId',
        );
    }
  }

  async update<K extends Kind>(
    kind: K,
    serverId: string,
    state: StateOf[K],
    metadata: string,
  ): Promise<void> {
    const body = toJson(kind, state, metadata);
    switch (kind) {
      case 'inboundTrunk':
        await this.sip.updateSipInboundTrunk(serverId, SIPInboundTrunkInfo.fromJson(body as never));
        return;
      case 'outboundTrunk':
        await this.sip.updateSipOutboundTrunk(
          serverId,
          SIPOutboundTrunkInfo.fromJson(body as never),
        );
        return;
      default:
        await this.sip.updateSipDispatchRule(serverId, SIPDispatchRuleInfo.fromJson(body as never));
    }
  }

  async delete(kind: Kind, serverId: string): Promise<void> {
    if (kind === 'dispatchRule') await this.sip.deleteSipDispatchRule(serverId);
    else await this.sip.deleteSipTrunk(serverId);
  }

  /** A Twirp JSON call with a short-lived SIP admin token, as SipClient makes them. */
  private async twirp(method: string, body: Json): Promise<Json> {
    const token = new AccessToken(this.conn.apiKey, this.conn.apiSecret, { ttl: '5m' });
    token.addSIPGrant({ admin: true });
    const res = await fetch(`${this.httpUrl}/twirp/livekit.SIP/${method}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await token.toJwt()}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = JSON.parse(text) as Json;
    } catch {
      // not JSON: reported below with the status
    }
    if (!res.ok) {
      const msg = typeof json.msg === 'string' ? json.msg : text.slice(0, 200);
      throw new Error(`${method} failed (${res.status}): ${msg}`);
    }
    return json;
  }
}

function idOf(json: Json, camel: string): string {
  const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const id = json[camel] ?? json[snake];
  if (typeof id !== 'string' || id === '') throw new Error('the server returned no ID');
  return id;
}

const INCLUDE_HEADERS = {
  none: 'SIP_NO_HEADERS',
  'x-headers': 'SIP_X_HEADERS',
  all: 'SIP_ALL_HEADERS',
} as const;
const TRANSPORT = {
  auto: 'SIP_TRANSPORT_AUTO',
  udp: 'SIP_TRANSPORT_UDP',
  tcp: 'SIP_TRANSPORT_TCP',
  tls: 'SIP_TRANSPORT_TLS',
} as const;

const seconds = (ms: number) => (ms === 0 ? undefined : `${msToSeconds(ms)}s`);
const fromDuration = (d: unknown) => (typeof d === 'string' ? Math.round(parseFloat(d) * 1000) : 0);
const strings = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
const map = (v: unknown) =>
  typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const reverse = <T extends Record<string, string>>(m: T, v: unknown, fallback: keyof T) =>
  (Object.entries(m).find(([, x]) => x === v)?.[0] ?? fallback) as keyof T;

/** The protocol's JSON of an object (lowerCamelCase names, enums by name, durations as "20s"). */
export function toJson<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Json {
  // protobuf-es's fromJson (used for updates) rejects undefined where a message is expected.
  return Object.fromEntries(
    Object.entries(protocolJson(kind, state, metadata)).filter(([, v]) => v !== undefined),
  );
}

function protocolJson<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Json {
  switch (kind) {
    case 'inboundTrunk': {
      const t = state as InboundTrunkState;
      return {
        name: t.name,
        metadata,
        numbers: t.numbers,
        allowedAddresses: t.allowedAddresses,
        allowedNumbers: t.allowedNumbers,
        authUsername: t.authUsername,
        authPassword: t.authPassword,
        headersToAttributes: t.headersToAttributes,
        includeHeaders: INCLUDE_HEADERS[t.includeHeaders],
        krispEnabled: t.noiseCancellation,
        ringingTimeout: seconds(t.ringingTimeoutMs),
        maxCallDuration: seconds(t.maxCallDurationMs),
      };
    }
    case 'outboundTrunk': {
      const t = state as OutboundTrunkState;
      return {
        name: t.name,
        metadata,
        address: t.address,
        transport: TRANSPORT[t.transport],
        numbers: t.numbers,
        authUsername: t.authUsername,
        authPassword: t.authPassword,
        headers: t.headers,
      };
    }
    default: {
      const r = state as DispatchRuleState;
      const rule =
        r.type === 'direct'
          ? { dispatchRuleDirect: { roomName: r.roomName, pin: r.pin } }
          : r.type === 'individual'
            ? { dispatchRuleIndividual: { roomPrefix: r.roomPrefix, pin: r.pin } }
            : {
                dispatchRuleCallee: {
                  roomPrefix: r.roomPrefix,
                  pin: r.pin,
                  randomize: r.randomize,
                },
              };
      return {
        name: r.name,
        metadata,
        rule,
        trunkIds: r.trunks,
        numbers: r.calledNumbers,
        inboundNumbers: r.callerNumbers,
        attributes: r.attributes,
        hidePhoneNumber: r.hidePhoneNumber,
        ...(r.agents.length === 0
          ? {}
          : {
              roomConfig: {
                agents: r.agents.map((a) => ({ agentName: a.name, metadata: a.metadata })),
              },
            }),
      };
    }
  }
}

export function inboundFromJson(j: Json): InboundTrunkState {
  return {
    name: str(j.name),
    numbers: strings(j.numbers),
    allowedAddresses: strings(j.allowedAddresses),
    allowedNumbers: strings(j.allowedNumbers),
    authUsername: str(j.authUsername),
    authPassword: str(j.authPassword),
    headersToAttributes: map(j.headersToAttributes),
    includeHeaders: reverse(INCLUDE_HEADERS, j.includeHeaders, 'none'),
    noiseCancellation: j.krispEnabled === true,
    ringingTimeoutMs: fromDuration(j.ringingTimeout),
    maxCallDurationMs: fromDuration(j.maxCallDuration),
  };
}

export function outboundFromJson(j: Json): OutboundTrunkState {
  return {
    name: str(j.name),
    address: str(j.address),
    transport: reverse(TRANSPORT, j.transport, 'auto'),
    numbers: strings(j.numbers),
    authUsername: str(j.authUsername),
    authPassword: str(j.authPassword),
    headers: map(j.headers),
  };
}

export function ruleFromJson(j: Json): DispatchRuleState {
  const rule = (typeof j.rule === 'object' && j.rule !== null ? j.rule : {}) as Record<
    string,
    Json | undefined
  >;
  const [type, body]: [DispatchRuleState['type'], Json] =
    rule.dispatchRuleDirect !== undefined
      ? ['direct', rule.dispatchRuleDirect]
      : rule.dispatchRuleCallee !== undefined
        ? ['callee', rule.dispatchRuleCallee]
        : ['individual', rule.dispatchRuleIndividual ?? {}];
  const agents = ((j.roomConfig as Json | undefined)?.agents ?? []) as Json[];
  return {
    name: str(j.name),
    type,
    roomPrefix: str(body.roomPrefix),
    roomName: str(body.roomName),
    randomize: body.randomize === true,
    pin: str(body.pin),
    trunks: strings(j.trunkIds),
    calledNumbers: strings(j.numbers),
    callerNumbers: strings(j.inboundNumbers),
    attributes: map(j.attributes),
    hidePhoneNumber: j.hidePhoneNumber === true,
    agents: agents.map((a) => ({ name: str(a.agentName), metadata: str(a.metadata) })),
  };
}
