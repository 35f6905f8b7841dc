import type { Kind, ServerObject, ServerState } from './model.js';

/**
 * The server's objects as a sip-dispatch file, to adopt an existing project: entries keyed by
 * their marker id (or a slug of the name for objects this tool did not create), rules naming
 * trunks by those keys, defaults left out, and every field beyond the model kept as the entry's
 * serverFields. Passwords and PINs are never exported: each becomes a passwordEnv or pinEnv
 * reference that the user sets in the environment.
 */
export interface Exported {
  config: Record<string, Record<string, Record<string, unknown>>>;
  /** Environment variables the exported config expects (one per password found). */
  secrets: string[];
}

export function exportSipConfig(server: ServerState): Exported {
  const secrets: string[] = [];
  const taken = new Set<string>();
  const idOf = new Map<string, string>();
  const assign = (o: ServerObject) => {
    const base =
      o.marker?.id ?? (slug(o.state.name) || o.serverId.toLowerCase().replace(/_/g, '-'));
    let id = base;
    for (let n = 2; taken.has(`${o.kind}:${id}`); n++) id = `${base}-${n}`;
    taken.add(`${o.kind}:${id}`);
    idOf.set(o.serverId, id);
    return id;
  };
  const envFor = (kind: Kind, id: string, what: 'PASSWORD' | 'PIN') =>
    `SIP_${id.toUpperCase().replace(/-/g, '_')}_${kind === 'outboundTrunk' ? 'OUTBOUND_' : ''}${what}`;
  const auth = (kind: Kind, id: string, username: string, password: string, realm = '') => {
    if (username === '' && password === '') return {};
    const env = envFor(kind, id, 'PASSWORD');
    secrets.push(env);
    return { auth: compact({ username, passwordEnv: env, realm }) };
  };
  const pin = (id: string, value: string) => {
    if (value === '') return {};
    const env = envFor('dispatchRule', id, 'PIN');
    secrets.push(env);
    return { pinEnv: env };
  };
  const encryption = (e: string) => (e === 'disable' ? undefined : e);
  const inboundTrunks: Record<string, Record<string, unknown>> = {};
  const outboundTrunks: Record<string, Record<string, unknown>> = {};
  const dispatchRules: Record<string, Record<string, unknown>> = {};
  for (const t of server.inboundTrunks) {
    const id = assign(t);
    const s = t.state;
    inboundTrunks[id] = compact({
      name: s.name === id ? undefined : s.name,
      numbers: s.numbers,
      allowedAddresses: s.allowedAddresses,
      allowedNumbers: s.allowedNumbers,
      ...auth('inboundTrunk', id, s.authUsername, s.authPassword, s.authRealm),
      headers: s.headers,
      headersToAttributes: s.headersToAttributes,
      attributesToHeaders: s.attributesToHeaders,
      includeHeaders: s.includeHeaders === 'none' ? undefined : s.includeHeaders,
      noiseCancellation: s.noiseCancellation || undefined,
      mediaEncryption: encryption(s.mediaEncryption),
      ringingTimeoutMs: s.ringingTimeoutMs || undefined,
      maxCallDurationMs: s.maxCallDurationMs || undefined,
      mediaTimeoutMs: s.mediaTimeoutMs || undefined,
      serverFields: t.unmodelled,
    });
  }
  for (const t of server.outboundTrunks) {
    const id = assign(t);
    const s = t.state;
    outboundTrunks[id] = compact({
      name: s.name === id ? undefined : s.name,
      address: s.address,
      transport: s.transport === 'auto' ? undefined : s.transport,
      numbers: s.numbers,
      ...auth('outboundTrunk', id, s.authUsername, s.authPassword),
      destinationCountry: s.destinationCountry,
      fromHost: s.fromHost,
      headers: s.headers,
      headersToAttributes: s.headersToAttributes,
      attributesToHeaders: s.attributesToHeaders,
      includeHeaders: s.includeHeaders === 'none' ? undefined : s.includeHeaders,
      mediaEncryption: encryption(s.mediaEncryption),
      serverFields: t.unmodelled,
    });
  }
  for (const r of server.dispatchRules) {
    const id = assign(r);
    const s = r.state;
    dispatchRules[id] = compact({
      name: s.name === id ? undefined : s.name,
      type: s.type,
      roomPrefix: s.type === 'direct' ? undefined : s.roomPrefix,
      roomName: s.type === 'direct' ? s.roomName : undefined,
      randomize: s.type === 'callee' ? s.randomize : undefined,
      ...pin(id, s.pin),
      trunks: s.trunks.map((t) => idOf.get(t) ?? t),
      calledNumbers: s.calledNumbers,
      callerNumbers: s.callerNumbers,
      attributes: s.attributes,
      hidePhoneNumber: s.hidePhoneNumber || undefined,
      noiseCancellation: s.noiseCancellation || undefined,
      mediaEncryption: encryption(s.mediaEncryption),
      room: compact({
        emptyTimeoutMs: s.roomEmptyTimeoutMs || undefined,
        departureTimeoutMs: s.roomDepartureTimeoutMs || undefined,
        maxParticipants: s.roomMaxParticipants || undefined,
        metadata: s.roomMetadata,
      }),
      // Metadata as the server has it (text): validate checks JSON text as call options too.
      agents: s.agents.map((a) =>
        compact({
          name: a.name,
          metadata: a.metadata,
          attributes: a.attributes,
        }),
      ),
      serverFields: r.unmodelled,
    });
  }
  const config = Object.fromEntries(
    Object.entries({ inboundTrunks, outboundTrunks, dispatchRules }).filter(
      ([, entries]) => Object.keys(entries).length > 0,
    ),
  );
  return { config, secrets };
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(
      ([, v]) =>
        v !== undefined &&
        v !== '' &&
        !(Array.isArray(v) && v.length === 0) &&
        !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0),
    ),
  );
}
