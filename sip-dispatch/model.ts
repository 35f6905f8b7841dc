import { createHash } from 'node:crypto';
import type {
  DispatchRuleEntry,
  InboundTrunkEntry,
  OutboundTrunkEntry,
  SipConfig,
} from './schema.js';

/**
 * The server's SIP objects as plain data, in the config's vocabulary. Plan compares these field by
 * field; the SIP API adapter converts them to and from the protocol. Secrets are carried (apply
 * needs them) and masked by every renderer. A field the protocol has and this model does not is
 * never written by apply (updates read, modify and write the whole object), and is carried in
 * `ServerObject.unmodelled` so plan and export can show it.
 */
export type MediaEncryption = 'disable' | 'allow' | 'require';
export type IncludeHeaders = 'none' | 'x-headers' | 'all';

export interface InboundTrunkState {
  name: string;
  numbers: string[];
  allowedAddresses: string[];
  allowedNumbers: string[];
  authUsername: string;
  authPassword: string;
  authRealm: string;
  /** Headers added to the responses livekit-sip sends on this trunk. */
  headers: Record<string, string>;
  headersToAttributes: Record<string, string>;
  attributesToHeaders: Record<string, string>;
  includeHeaders: IncludeHeaders;
  noiseCancellation: boolean;
  mediaEncryption: MediaEncryption;
  /** 0: the server's default. */
  ringingTimeoutMs: number;
  maxCallDurationMs: number;
  /** No media for this long ends the call; 0: the server's default. */
  mediaTimeoutMs: number;
}

export interface OutboundTrunkState {
  name: string;
  address: string;
  transport: 'auto' | 'udp' | 'tcp' | 'tls';
  numbers: string[];
  authUsername: string;
  authPassword: string;
  /** ISO 3166-1 alpha-2 country of the destination, for region routing; '' none. */
  destinationCountry: string;
  /** Host in the From header of outbound INVITEs; '' the server's. */
  fromHost: string;
  headers: Record<string, string>;
  headersToAttributes: Record<string, string>;
  attributesToHeaders: Record<string, string>;
  includeHeaders: IncludeHeaders;
  mediaEncryption: MediaEncryption;
}

export interface DispatchRuleState {
  name: string;
  type: 'individual' | 'direct' | 'callee';
  roomPrefix: string;
  roomName: string;
  randomize: boolean;
  pin: string;
  /** Trunk references: config ids in the desired state, server IDs in what the server has. */
  trunks: string[];
  calledNumbers: string[];
  callerNumbers: string[];
  attributes: Record<string, string>;
  hidePhoneNumber: boolean;
  noiseCancellation: boolean;
  mediaEncryption: MediaEncryption;
  /** The room's configuration; 0 and '' mean the server's default. */
  roomEmptyTimeoutMs: number;
  roomDepartureTimeoutMs: number;
  roomMaxParticipants: number;
  roomMetadata: string;
  agents: { name: string; metadata: string; attributes: Record<string, string> }[];
}

export type Kind = 'inboundTrunk' | 'outboundTrunk' | 'dispatchRule';
export interface StateOf {
  inboundTrunk: InboundTrunkState;
  outboundTrunk: OutboundTrunkState;
  dispatchRule: DispatchRuleState;
}

/** Fields whose values are never shown. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['authPassword', 'pin']);

/** What this tool writes into each object's metadata to recognise it later. */
export interface Marker {
  id: string;
  /** sha256 of the password, so a server that does not return secrets can still be compared. */
  secretHash?: string;
}
const MANAGED_BY = 'switchboard/sip-dispatch';

export function markerMetadata(marker: Marker): string {
  return JSON.stringify({ managedBy: MANAGED_BY, ...marker });
}

export function parseMarker(metadata: string): Marker | undefined {
  try {
    const m = JSON.parse(metadata) as unknown;
    if (typeof m !== 'object' || m === null) return undefined;
    const { managedBy, id, secretHash } = m as Record<string, unknown>;
    if (managedBy !== MANAGED_BY || typeof id !== 'string') return undefined;
    return { id, ...(typeof secretHash === 'string' ? { secretHash } : {}) };
  } catch {
    return undefined;
  }
}

export function secretHash(secret: string): string | undefined {
  return secret === '' ? undefined : createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** A server object as read: its ID, the marker if this tool manages it, and its state. */
export interface ServerObject<K extends Kind = Kind> {
  kind: K;
  serverId: string;
  marker?: Marker;
  state: StateOf[K];
  /**
   * What the object has beyond the model, as the protocol's JSON (lowerCamelCase, e.g.
   * `{ media: { codecs: [...] } }`); `{}` when nothing. Apply keeps it as it is.
   */
  unmodelled: Record<string, unknown>;
}

export interface ServerState {
  inboundTrunks: ServerObject<'inboundTrunk'>[];
  outboundTrunks: ServerObject<'outboundTrunk'>[];
  dispatchRules: ServerObject<'dispatchRule'>[];
}

/** A desired object: the config entry's id, the ids it had before, and its state. */
export interface DesiredObject<K extends Kind = Kind> {
  kind: K;
  id: string;
  previousIds: string[];
  state: StateOf[K];
  /** The entry's `serverFields`: protocol fields beyond the model, set as given (export writes them). */
  serverFields: Record<string, unknown>;
}

export interface DesiredState {
  inboundTrunks: DesiredObject<'inboundTrunk'>[];
  outboundTrunks: DesiredObject<'outboundTrunk'>[];
  dispatchRules: DesiredObject<'dispatchRule'>[];
}

/** Milliseconds in the config, whole seconds in the SIP API; 0 means "the server's default". */
export function msToSeconds(ms: number | undefined): number {
  if (ms === undefined) return 0;
  if (ms % 1000 !== 0) throw new RangeError(`${ms} ms is not a whole number of seconds`);
  return ms / 1000;
}

export type SecretLookup = (envName: string) => string | undefined;

/**
 * The config as the objects it asks for. `secret` resolves passwordEnv and pinEnv names; a name
 * that is not set is reported through `missing` (with where the file names it, e.g.
 * `dispatchRules.x.pinEnv`) and resolved as empty, so one run lists all of them.
 */
export function desiredState(
  config: SipConfig,
  secret: SecretLookup,
  missing: (envName: string, where: string) => void = () => undefined,
): DesiredState {
  const fromEnv = (envName: string | undefined, where: string) => {
    if (envName === undefined) return '';
    const value = secret(envName);
    if (value === undefined || value === '') {
      missing(envName, where);
      return '';
    }
    return value;
  };
  return {
    inboundTrunks: Object.entries(config.inboundTrunks).map(([id, t]) => ({
      kind: 'inboundTrunk',
      id,
      previousIds: t.previousIds,
      state: inboundState(id, t, fromEnv(t.auth?.passwordEnv, `inboundTrunks.${id}.auth`)),
      serverFields: t.serverFields,
    })),
    outboundTrunks: Object.entries(config.outboundTrunks).map(([id, t]) => ({
      kind: 'outboundTrunk',
      id,
      previousIds: t.previousIds,
      state: outboundState(id, t, fromEnv(t.auth?.passwordEnv, `outboundTrunks.${id}.auth`)),
      serverFields: t.serverFields,
    })),
    dispatchRules: Object.entries(config.dispatchRules).map(([id, r]) => ({
      kind: 'dispatchRule',
      id,
      previousIds: r.previousIds,
      state: ruleState(id, r, r.pin ?? fromEnv(r.pinEnv, `dispatchRules.${id}.pinEnv`)),
      serverFields: r.serverFields,
    })),
  };
}

function inboundState(id: string, t: InboundTrunkEntry, password: string): InboundTrunkState {
  return {
    name: t.name ?? id,
    numbers: t.numbers,
    allowedAddresses: t.allowedAddresses,
    allowedNumbers: t.allowedNumbers,
    authUsername: t.auth?.username ?? '',
    authPassword: password,
    authRealm: t.auth?.realm ?? '',
    headers: t.headers,
    headersToAttributes: t.headersToAttributes,
    attributesToHeaders: t.attributesToHeaders,
    includeHeaders: t.includeHeaders,
    noiseCancellation: t.noiseCancellation,
    mediaEncryption: t.mediaEncryption,
    ringingTimeoutMs: t.ringingTimeoutMs ?? 0,
    maxCallDurationMs: t.maxCallDurationMs ?? 0,
    mediaTimeoutMs: t.mediaTimeoutMs ?? 0,
  };
}

function outboundState(id: string, t: OutboundTrunkEntry, password: string): OutboundTrunkState {
  return {
    name: t.name ?? id,
    address: t.address,
    transport: t.transport,
    numbers: t.numbers,
    authUsername: t.auth?.username ?? '',
    authPassword: password,
    destinationCountry: t.destinationCountry ?? '',
    fromHost: t.fromHost ?? '',
    headers: t.headers,
    headersToAttributes: t.headersToAttributes,
    attributesToHeaders: t.attributesToHeaders,
    includeHeaders: t.includeHeaders,
    mediaEncryption: t.mediaEncryption,
  };
}

/** Agent metadata as the server stores it: a string as given, an object as JSON. */
export function agentMetadataText(metadata: string | Record<string, unknown> | undefined): string {
  return metadata === undefined
    ? ''
    : typeof metadata === 'string'
      ? metadata
      : JSON.stringify(metadata);
}

function ruleState(id: string, r: DispatchRuleEntry, pin: string): DispatchRuleState {
  return {
    name: r.name ?? id,
    type: r.type,
    roomPrefix: r.roomPrefix ?? '',
    roomName: r.roomName ?? '',
    randomize: r.randomize ?? false,
    pin,
    trunks: r.trunks,
    calledNumbers: r.calledNumbers,
    callerNumbers: r.callerNumbers,
    attributes: r.attributes,
    hidePhoneNumber: r.hidePhoneNumber,
    noiseCancellation: r.noiseCancellation,
    mediaEncryption: r.mediaEncryption,
    roomEmptyTimeoutMs: r.room?.emptyTimeoutMs ?? 0,
    roomDepartureTimeoutMs: r.room?.departureTimeoutMs ?? 0,
    roomMaxParticipants: r.room?.maxParticipants ?? 0,
    roomMetadata: agentMetadataText(r.room?.metadata),
    agents: r.agents.map((a) => ({
      name: a.name,
      metadata: agentMetadataText(a.metadata),
      attributes: a.attributes,
    })),
  };
}
