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
 * needs them) and masked by every renderer.
 */
export interface InboundTrunkState {
  name: string;
  numbers: string[];
  allowedAddresses: string[];
  allowedNumbers: string[];
  authUsername: string;
  authPassword: string;
  headersToAttributes: Record<string, string>;
  includeHeaders: 'none' | 'x-headers' | 'all';
  noiseCancellation: boolean;
  /** 0: the server's default. */
  ringingTimeoutMs: number;
  maxCallDurationMs: number;
}

export interface OutboundTrunkState {
  name: string;
  address: string;
  transport: 'auto' | 'udp' | 'tcp' | 'tls';
  numbers: string[];
  authUsername: string;
  authPassword: string;
  headers: Record<string, string>;
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
  agents: { name: string; metadata: string }[];
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
 * The config as the objects it asks for. `secret` resolves passwordEnv names; a name that is not
 * set is reported through `missing` and resolved as empty, so one run lists all of them.
 */
export function desiredState(
  config: SipConfig,
  secret: SecretLookup,
  missing: (envName: string, where: string) => void = () => undefined,
): DesiredState {
  const password = (auth: { passwordEnv: string } | undefined, where: string) => {
    if (auth === undefined) return '';
    const value = secret(auth.passwordEnv);
    if (value === undefined || value === '') {
      missing(auth.passwordEnv, where);
      return '';
    }
    return value;
  };
  return {
    inboundTrunks: Object.entries(config.inboundTrunks).map(([id, t]) => ({
      kind: 'inboundTrunk',
      id,
      previousIds: t.previousIds,
      state: inboundState(id, t, password(t.auth, `inboundTrunks.${id}.auth`)),
    })),
    outboundTrunks: Object.entries(config.outboundTrunks).map(([id, t]) => ({
      kind: 'outboundTrunk',
      id,
      previousIds: t.previousIds,
      state: outboundState(id, t, password(t.auth, `outboundTrunks.${id}.auth`)),
    })),
    dispatchRules: Object.entries(config.dispatchRules).map(([id, r]) => ({
      kind: 'dispatchRule',
      id,
      previousIds: r.previousIds,
      state: ruleState(id, r),
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
    headersToAttributes: t.headersToAttributes,
    includeHeaders: t.includeHeaders,
    noiseCancellation: t.noiseCancellation,
    ringingTimeoutMs: t.ringingTimeoutMs ?? 0,
    maxCallDurationMs: t.maxCallDurationMs ?? 0,
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
    headers: t.headers,
  };
}

function ruleState(id: string, r: DispatchRuleEntry): DispatchRuleState {
  return {
    name: r.name ?? id,
    type: r.type,
    roomPrefix: r.roomPrefix ?? '',
    roomName: r.roomName ?? '',
    randomize: r.randomize ?? false,
    pin: r.pin ?? '',
    trunks: r.trunks,
    calledNumbers: r.calledNumbers,
    callerNumbers: r.callerNumbers,
    attributes: r.attributes,
    hidePhoneNumber: r.hidePhoneNumber,
    agents: r.agents.map((a) => ({
      name: a.name,
      metadata:
        a.metadata === undefined
          ? ''
          : typeof a.metadata === 'string'
            ? a.metadata
            : JSON.stringify(a.metadata),
    })),
  };
}
