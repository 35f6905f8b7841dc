import type { Kind, ServerObject, ServerState } from './model.js';

/**
 * The server's objects as a sip-dispatch file, to adopt an existing project: entries keyed by
 * their marker id (or a slug of the name for objects this tool did not create), rules naming
 * trunks by those keys, defaults left out. Passwords are never exported: each becomes a
 * passwordEnv reference that the user sets in the environment.
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
  const auth = (kind: Kind, id: string, username: string, password: string) => {
    if (username === '' && password === '') return {};
    const env = `SIP_${id.toUpperCase().replace(/-/g, '_')}_${kind === 'outboundTrunk' ? 'OUTBOUND_' : ''}PASSWORD`;
    secrets.push(env);
    return { auth: { username, passwordEnv: env } };
  };
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
      ...auth('inboundTrunk', id, s.authUsername, s.authPassword),
      headersToAttributes: s.headersToAttributes,
      includeHeaders: s.includeHeaders === 'none' ? undefined : s.includeHeaders,
      noiseCancellation: s.noiseCancellation || undefined,
      ringingTimeoutMs: s.ringingTimeoutMs || undefined,
      maxCallDurationMs: s.maxCallDurationMs || undefined,
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
      headers: s.headers,
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
      pin: s.pin,
      trunks: s.trunks.map((t) => idOf.get(t) ?? t),
      calledNumbers: s.calledNumbers,
      callerNumbers: s.callerNumbers,
      attributes: s.attributes,
      hidePhoneNumber: s.hidePhoneNumber || undefined,
      agents: s.agents.map((a) => (a.metadata === '' ? { name: a.name } : a)),
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
