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
import { deepMerge, MODELLED, overlay, unmodelledOf } from './protocol-fields.js';
import type { SipApi } from './sip-api.js';

/**
 * The SIP API of a LiveKit server (local or Cloud) through livekit-server-sdk's SipClient: list,
 * update and delete. Creates post the protocol's Create*Request with the whole object instead,
 * because the SDK's create helpers cannot set a rule's called and caller numbers or a trunk's max
 * call duration; a create followed by an update would leave a half-made object.
 *
 * Updates read, modify and write: the SDK's update sends the object as a whole `replace`, and its
 * partial update (`update*Fields`, the protocol's `update` action) covers only a few fields (no
 * header mappings, Krisp, timeouts or room configuration), so each update lists the object afresh,
 * overlays the fields sip-dispatch models (protocol-fields.ts) and the entry's serverFields, and
 * replaces it with the result: every other field stays as the server had it.
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
    return {
      inboundTrunks: inbound.map((t) =>
        fromServer('inboundTrunk', t.sipTrunkId, t.toJson() as Json),
      ),
      outboundTrunks: outbound.map((t) =>
        fromServer('outboundTrunk', t.sipTrunkId, t.toJson() as Json),
      ),
      dispatchRules: rules.map((r) =>
        fromServer('dispatchRule', r.sipDispatchRuleId, r.toJson() as Json),
      ),
    };
  }

  async create<K extends Kind>(
    kind: K,
    state: StateOf[K],
    metadata: string,
    serverFields: Json = {},
  ): Promise<string> {
    const body = deepMerge(toJson(kind, state, metadata), serverFields) as Json;
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
    serverFields: Json = {},
  ): Promise<void> {
    const current = await this.readOne(kind, serverId);
    const body = mergeForUpdate(kind, current, state, metadata, serverFields);
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

  /** The object as the server has it now, as protocol JSON (the read of read-modify-write). */
  private async readOne(kind: Kind, serverId: string): Promise<Json> {
    const [found] =
      kind === 'inboundTrunk'
        ? await this.sip.listSipInboundTrunk({ trunkIds: [serverId] })
        : kind === 'outboundTrunk'
          ? await this.sip.listSipOutboundTrunk({ trunkIds: [serverId] })
          : await this.sip.listSipDispatchRule({ dispatchRuleIds: [serverId] });
    // A missing ID comes back as an empty item in its place.
    const json = found === undefined ? {} : (found.toJson() as Json);
    if (Object.keys(json).length === 0)
      throw new Error(`${kind} ${serverId} no longer exists on the server; run plan again`);
    return json;
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

/** A server object from its protocol JSON: the modelled state, its marker, what else it has. */
export function fromServer<K extends Kind>(kind: K, serverId: string, json: Json): ServerObject<K> {
  const marker = parseMarker(str(json.metadata));
  const state = (
    kind === 'inboundTrunk'
      ? inboundFromJson(json)
      : kind === 'outboundTrunk'
        ? outboundFromJson(json)
        : ruleFromJson(json)
  ) as StateOf[K];
  return {
    kind,
    serverId,
    ...(marker === undefined ? {} : { marker }),
    state,
    unmodelled: (unmodelledOf(json, MODELLED[kind]) ?? {}) as Json,
  };
}

/**
 * The object to write back: the server's current JSON with the modelled fields replaced and the
 * entry's serverFields merged in; everything else as it was.
 */
export function mergeForUpdate<K extends Kind>(
  kind: K,
  current: Json,
  state: StateOf[K],
  metadata: string,
  serverFields: Json = {},
): Json {
  const want = toJson(kind, state, metadata);
  let base = current;
  if (kind === 'dispatchRule') {
    // The rule's kind is a oneof: another kind's leftovers (e.g. noRandomness) cannot stay.
    const caseOf = (j: Json) => Object.keys((j.rule as Json | undefined) ?? {})[0];
    if (caseOf(current) !== caseOf(want)) base = { ...current, rule: undefined };
  }
  const merged = deepMerge(overlay(base, want, MODELLED[kind]), serverFields) as Json;
  for (const owned of ['createdAt', 'updatedAt', 'sipTrunkId', 'sipDispatchRuleId'])
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- server-owned fields
    delete merged[owned];
  return merged;
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
const ENCRYPTION = {
  disable: 'SIP_MEDIA_ENCRYPT_DISABLE',
  allow: 'SIP_MEDIA_ENCRYPT_ALLOW',
  require: 'SIP_MEDIA_ENCRYPT_REQUIRE',
} as const;

const seconds = (ms: number) => (ms === 0 ? undefined : `${msToSeconds(ms)}s`);
const wholeSeconds = (ms: number) => (ms === 0 ? undefined : msToSeconds(ms));
const fromDuration = (d: unknown) => (typeof d === 'string' ? Math.round(parseFloat(d) * 1000) : 0);
const fromSeconds = (n: unknown) => (typeof n === 'number' ? n * 1000 : 0);
const strings = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
const map = (v: unknown) =>
  typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const obj = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Json) : {});
const reverse = <T extends Record<string, string>>(m: T, v: unknown, fallback: keyof T) =>
  (Object.entries(m).find(([, x]) => x === v)?.[0] ?? fallback) as keyof T;
const orNone = (v: string) => (v === '' ? undefined : v);
/** Disable is the protocol's default: sent as nothing, so a server that lacks the field is fine. */
const encryption = (e: keyof typeof ENCRYPTION) => (e === 'disable' ? undefined : ENCRYPTION[e]);
/** The top-level field, or the newer media.encryption when only that one is set. */
const encryptionOf = (j: Json) =>
  reverse(
    ENCRYPTION,
    j.mediaEncryption !== undefined ? j.mediaEncryption : obj(j.media).encryption,
    'disable',
  );

/** Drops undefined fields and the objects left empty by that (protobuf-es rejects undefined). */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (typeof v !== 'object' || v === null) return v;
  const out: Json = {};
  for (const [k, e] of Object.entries(v)) {
    const p = prune(e);
    if (p === undefined) continue;
    if (typeof p === 'object' && p !== null && !Array.isArray(p) && Object.keys(p).length === 0)
      continue;
    out[k] = p;
  }
  return out;
}

/** The protocol's JSON of an object (lowerCamelCase names, enums by name, durations as "20s"). */
export function toJson<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Json {
  return prune(protocolJson(kind, state, metadata)) as Json;
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
        authRealm: orNone(t.authRealm),
        headers: t.headers,
        headersToAttributes: t.headersToAttributes,
        attributesToHeaders: t.attributesToHeaders,
        includeHeaders: INCLUDE_HEADERS[t.includeHeaders],
        krispEnabled: t.noiseCancellation,
        mediaEncryption: encryption(t.mediaEncryption),
        ringingTimeout: seconds(t.ringingTimeoutMs),
        maxCallDuration: seconds(t.maxCallDurationMs),
        media: { mediaTimeout: seconds(t.mediaTimeoutMs) },
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
        destinationCountry: orNone(t.destinationCountry),
        fromHost: orNone(t.fromHost),
        headers: t.headers,
        headersToAttributes: t.headersToAttributes,
        attributesToHeaders: t.attributesToHeaders,
        includeHeaders: INCLUDE_HEADERS[t.includeHeaders],
        mediaEncryption: encryption(t.mediaEncryption),
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
        krispEnabled: r.noiseCancellation,
        mediaEncryption: encryption(r.mediaEncryption),
        roomConfig: {
          emptyTimeout: wholeSeconds(r.roomEmptyTimeoutMs),
          departureTimeout: wholeSeconds(r.roomDepartureTimeoutMs),
          maxParticipants: r.roomMaxParticipants === 0 ? undefined : r.roomMaxParticipants,
          metadata: orNone(r.roomMetadata),
          agents:
            r.agents.length === 0
              ? undefined
              : r.agents.map((a) => ({
                  agentName: a.name,
                  metadata: orNone(a.metadata),
                  attributes: Object.keys(a.attributes).length === 0 ? undefined : a.attributes,
                })),
        },
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
    authRealm: str(j.authRealm),
    headers: map(j.headers),
    headersToAttributes: map(j.headersToAttributes),
    attributesToHeaders: map(j.attributesToHeaders),
    includeHeaders: reverse(INCLUDE_HEADERS, j.includeHeaders, 'none'),
    noiseCancellation: j.krispEnabled === true,
    mediaEncryption: encryptionOf(j),
    ringingTimeoutMs: fromDuration(j.ringingTimeout),
    maxCallDurationMs: fromDuration(j.maxCallDuration),
    mediaTimeoutMs: fromDuration(obj(j.media).mediaTimeout),
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
    destinationCountry: str(j.destinationCountry),
    fromHost: str(j.fromHost),
    headers: map(j.headers),
    headersToAttributes: map(j.headersToAttributes),
    attributesToHeaders: map(j.attributesToHeaders),
    includeHeaders: reverse(INCLUDE_HEADERS, j.includeHeaders, 'none'),
    mediaEncryption: encryptionOf(j),
  };
}

export function ruleFromJson(j: Json): DispatchRuleState {
  const rule = obj(j.rule) as Record<string, Json | undefined>;
  const [type, body]: [DispatchRuleState['type'], Json] =
    rule.dispatchRuleDirect !== undefined
      ? ['direct', rule.dispatchRuleDirect]
      : rule.dispatchRuleCallee !== undefined
        ? ['callee', rule.dispatchRuleCallee]
        : ['individual', rule.dispatchRuleIndividual ?? {}];
  const room = obj(j.roomConfig);
  const agents = (Array.isArray(room.agents) ? room.agents : []) as Json[];
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
    noiseCancellation: j.krispEnabled === true,
    mediaEncryption: encryptionOf(j),
    roomEmptyTimeoutMs: fromSeconds(room.emptyTimeout),
    roomDepartureTimeoutMs: fromSeconds(room.departureTimeout),
    roomMaxParticipants: typeof room.maxParticipants === 'number' ? room.maxParticipants : 0,
    roomMetadata: str(room.metadata),
    agents: agents.map((a) => ({
      name: str(a.agentName),
      metadata: str(a.metadata),
      attributes: map(a.attributes),
    })),
  };
}
