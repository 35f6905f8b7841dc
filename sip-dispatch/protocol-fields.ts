import type { Kind } from './model.js';

/**
 * Which fields of the protocol's objects (their JSON: lowerCamelCase, e.g. `krispEnabled`,
 * `roomConfig.agents[].agentName`) sip-dispatch models. Everything else an object carries (set in
 * the console, with `lk`, or by a newer server) is "unmodelled": apply keeps it (updates read the
 * object, overlay the modelled fields and write the result back), plan lists it, export writes it
 * as the entry's `serverFields`.
 *
 * A spec is `true` (the field as a whole), an object (these sub-fields) or a one-element array
 * (this spec for each element, matched by position).
 */
export type FieldSpec = true | { readonly [key: string]: FieldSpec } | readonly [FieldSpec];
type Json = Record<string, unknown>;

/** Set by the server, never written: not reported as unmodelled either. */
const SERVER_OWNED = { createdAt: true, updatedAt: true } as const;

const INBOUND: FieldSpec = {
  ...SERVER_OWNED,
  sipTrunkId: true,
  name: true,
  metadata: true,
  numbers: true,
  allowedAddresses: true,
  allowedNumbers: true,
  authUsername: true,
  authPassword: true,
  authRealm: true,
  headers: true,
  headersToAttributes: true,
  attributesToHeaders: true,
  includeHeaders: true,
  krispEnabled: true,
  mediaEncryption: true,
  ringingTimeout: true,
  maxCallDuration: true,
  media: { encryption: true, mediaTimeout: true },
};

const OUTBOUND: FieldSpec = {
  ...SERVER_OWNED,
  sipTrunkId: true,
  name: true,
  metadata: true,
  address: true,
  transport: true,
  numbers: true,
  authUsername: true,
  authPassword: true,
  destinationCountry: true,
  fromHost: true,
  headers: true,
  headersToAttributes: true,
  attributesToHeaders: true,
  includeHeaders: true,
  mediaEncryption: true,
  media: { encryption: true },
};

const RULE: FieldSpec = {
  ...SERVER_OWNED,
  sipDispatchRuleId: true,
  name: true,
  metadata: true,
  rule: {
    dispatchRuleDirect: { roomName: true, pin: true },
    dispatchRuleIndividual: { roomPrefix: true, pin: true },
    dispatchRuleCallee: { roomPrefix: true, pin: true, randomize: true },
  },
  trunkIds: true,
  numbers: true,
  inboundNumbers: true,
  attributes: true,
  hidePhoneNumber: true,
  krispEnabled: true,
  mediaEncryption: true,
  media: { encryption: true },
  roomConfig: {
    emptyTimeout: true,
    departureTimeout: true,
    maxParticipants: true,
    metadata: true,
    agents: [{ agentName: true, metadata: true, attributes: true }],
  },
};

export const MODELLED: Readonly<Record<Kind, FieldSpec>> = {
  inboundTrunk: INBOUND,
  outboundTrunk: OUTBOUND,
  dispatchRule: RULE,
};

const isList = (s: FieldSpec): s is readonly [FieldSpec] => Array.isArray(s);
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isEmpty = (v: unknown) =>
  v === undefined ||
  (isObject(v) && Object.keys(v).length === 0) ||
  (Array.isArray(v) && v.length === 0);

/** What `raw` has beyond `spec`; `{}` or `undefined` parts are dropped. */
export function unmodelledOf(raw: unknown, spec: FieldSpec): unknown {
  if (spec === true) return undefined;
  if (isList(spec)) {
    if (!Array.isArray(raw)) return raw;
    const rest = raw.map((e) => unmodelledOf(e, spec[0]) ?? {});
    return rest.every((e) => isEmpty(e)) ? undefined : rest;
  }
  if (!isObject(raw)) return raw;
  const out: Json = {};
  const fields = spec as Readonly<Record<string, FieldSpec>>;
  for (const [key, value] of Object.entries(raw)) {
    const sub = fields[key];
    const rest = sub === undefined ? value : unmodelledOf(value, sub);
    if (!isEmpty(rest)) out[key] = rest;
  }
  return out;
}

/**
 * `raw` with every modelled field taken from `modelled` (a modelled field `modelled` lacks is
 * cleared), and every other field of `raw` kept as it is.
 */
export function overlay(raw: unknown, modelled: unknown, spec: FieldSpec): unknown {
  if (spec === true) return modelled;
  if (isList(spec)) {
    if (!Array.isArray(modelled)) return undefined;
    const before = Array.isArray(raw) ? raw : [];
    return modelled.map((e, i) => overlay(before[i], e, spec[0]));
  }
  const out: Json = isObject(raw) ? { ...raw } : {};
  const want = isObject(modelled) ? modelled : {};
  for (const [key, sub] of Object.entries(spec as Readonly<Record<string, FieldSpec>>)) {
    const merged = overlay(out[key], want[key], sub);
    if (merged === undefined || (sub !== true && isEmpty(merged))) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- protocol field names
      delete out[key];
    } else out[key] = merged;
  }
  return out;
}

/** `over` merged into `base`: objects field by field, arrays element by element, the rest replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (isObject(base) && isObject(over)) {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over) && over.every((e) => isObject(e)))
    return over.map((e, i) => deepMerge(base[i], e));
  return over;
}

/** Paths in `fields` that the model owns (they must be set through the config's own keys). */
export function modelledPaths(fields: unknown, spec: FieldSpec, at = ''): string[] {
  if (spec === true) return at === '' ? [] : [at];
  if (isList(spec)) {
    return Array.isArray(fields)
      ? fields.flatMap((e, i) => modelledPaths(e, spec[0], `${at}[${i}]`))
      : [];
  }
  if (!isObject(fields)) return [];
  const specFields = spec as Readonly<Record<string, FieldSpec>>;
  return Object.entries(fields).flatMap(([k, v]) => {
    const sub = specFields[k];
    return sub === undefined ? [] : modelledPaths(v, sub, at === '' ? k : `${at}.${k}`);
  });
}

/** Dotted names of the unmodelled fields, for plan: `media.codecs`, `roomConfig.agents[0].deployment`. */
export function fieldNames(fields: unknown, at = ''): string[] {
  if (Array.isArray(fields) && fields.some((e) => isObject(e)))
    return fields.flatMap((e, i) => fieldNames(e, `${at}[${i}]`));
  if (!isObject(fields)) return at === '' ? [] : [at];
  return Object.entries(fields).flatMap(([k, v]) => fieldNames(v, at === '' ? k : `${at}.${k}`));
}
