import {
  SECRET_FIELDS,
  secretHash,
  type DesiredObject,
  type DesiredState,
  type Kind,
  type Marker,
  type ServerObject,
  type ServerState,
  type StateOf,
} from './model.js';

/**
 * The plan is plain data computed from the desired objects and what the server has: what to
 * create, what to update (field by field) and what prune would delete. Objects are tied to config
 * entries by the marker in their metadata, never by name: renaming a display name is an update,
 * renaming an entry keeps its object when the old id is listed in previousIds, and an object
 * without a marker (made by hand or by another tool) is left alone unless a flag says otherwise.
 */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
  /** Render as "(secret)": the value is never shown. */
  secret: boolean;
}

export type Change =
  | { action: 'create'; kind: Kind; id: string; name: string; fields: FieldChange[] }
  | {
      action: 'update';
      kind: Kind;
      id: string;
      name: string;
      serverId: string;
      fields: FieldChange[];
      /** Why the marker changes: the entry was renamed from this id, or an unmarked object is adopted. */
      retag?: { from: string } | { adopt: true };
    }
  | {
      action: 'delete';
      kind: Kind;
      /** The marker id, or undefined for an object this tool did not create. */
      id: string | undefined;
      name: string;
      serverId: string;
    };

export interface Plan {
  /** Creates and updates, in the order apply runs them: inbound trunks, outbound trunks, rules. */
  upserts: Change[];
  /** What prune deletes: managed objects no longer in the config (and, if asked, unmarked ones). */
  deletions: Change[];
  unchanged: { kind: Kind; id: string; serverId: string }[];
  /** Objects without a marker that the plan leaves alone. */
  unmanaged: { kind: Kind; serverId: string; name: string }[];
  notes: string[];
  /** Server IDs of trunks that exist already, by config id (rules refer to trunks by config id). */
  trunkServerIds: Record<string, string>;
  /** The desired state of every create and update, by kind and id. */
  desired: Record<string, DesiredObject>;
}

export interface PlanOptions {
  /** Take over an unmarked object whose name equals an entry's name instead of creating one. */
  adopt?: boolean;
  /** Let prune delete unmarked objects not in the config too. */
  includeUnmanaged?: boolean;
}

export const desiredKey = (kind: Kind, id: string) => `${kind}:${id}`;

export function planSipConfig(
  desired: DesiredState,
  server: ServerState,
  options: PlanOptions = {},
): Plan {
  const plan: Plan = {
    upserts: [],
    deletions: [],
    unchanged: [],
    unmanaged: [],
    notes: [],
    trunkServerIds: {},
    desired: {},
  };
  const matchedInbound = planKind(desired.inboundTrunks, server.inboundTrunks, plan, options);
  planKind(desired.outboundTrunks, server.outboundTrunks, plan, options);

  // Rules name trunks by config id; on the server they hold trunk IDs.
  const trunkIdToEntry = new Map<string, string>();
  for (const [entryId, obj] of matchedInbound) {
    trunkIdToEntry.set(obj.serverId, entryId);
    plan.trunkServerIds[entryId] = obj.serverId;
  }
  for (const t of server.inboundTrunks) {
    if (!trunkIdToEntry.has(t.serverId))
      trunkIdToEntry.set(
        t.serverId,
        t.marker === undefined ? t.serverId : `${t.marker.id} (not in config)`,
      );
  }
  const rulesAsEntries = server.dispatchRules.map((r) => ({
    ...r,
    state: { ...r.state, trunks: r.state.trunks.map((id) => trunkIdToEntry.get(id) ?? id) },
  }));
  planKind(desired.dispatchRules, rulesAsEntries, plan, options);
  plan.deletions.sort((a, b) => deleteOrder(a.kind) - deleteOrder(b.kind));
  return plan;
}

const deleteOrder = (kind: Kind) => (kind === 'dispatchRule' ? 0 : 1);

function planKind<K extends Kind>(
  desired: DesiredObject<K>[],
  server: ServerObject<K>[],
  plan: Plan,
  options: PlanOptions,
): Map<string, ServerObject<K>> {
  const matched = new Map<string, ServerObject<K>>();
  const used = new Set<ServerObject<K>>();
  const byMarker = new Map<string, ServerObject<K>>();
  for (const obj of server) {
    if (obj.marker === undefined) continue;
    // Two objects with one marker (e.g. a copy made by hand): the first is kept, prune deletes the other.
    if (!byMarker.has(obj.marker.id)) byMarker.set(obj.marker.id, obj);
  }
  for (const want of desired) {
    plan.desired[desiredKey(want.kind, want.id)] = want;
    let found = byMarker.get(want.id);
    let retag: { from: string } | { adopt: true } | undefined;
    for (const prev of want.previousIds) {
      if (found !== undefined) break;
      found = byMarker.get(prev);
      if (found !== undefined) retag = { from: prev };
    }
    if (found === undefined) {
      const sameName = server.find(
        (o) => o.marker === undefined && !used.has(o) && o.state.name === want.state.name,
      );
      if (sameName !== undefined && options.adopt === true) {
        found = sameName;
        retag = { adopt: true };
      } else if (sameName !== undefined) {
        plan.notes.push(
          `${describeKind(want.kind)} "${want.state.name}" (${sameName.serverId}) exists but was not created by sip-dispatch; a new one will be created for "${want.id}". To take it over instead, run apply --adopt.`,
        );
      }
    }
    if (found === undefined) {
      plan.upserts.push({
        action: 'create',
        kind: want.kind,
        id: want.id,
        name: want.state.name,
        fields: diffFields(undefined, want.state, undefined),
      });
      continue;
    }
    used.add(found);
    matched.set(want.id, found);
    const fields = diffFields(found.state, want.state, found.marker);
    if (fields.length === 0 && retag === undefined && !secretHashStale(found.marker, want.state)) {
      plan.unchanged.push({ kind: want.kind, id: want.id, serverId: found.serverId });
      continue;
    }
    plan.upserts.push({
      action: 'update',
      kind: want.kind,
      id: want.id,
      name: want.state.name,
      serverId: found.serverId,
      fields,
      ...(retag === undefined ? {} : { retag }),
    });
  }
  for (const obj of server) {
    if (used.has(obj)) continue;
    if (obj.marker !== undefined || options.includeUnmanaged === true) {
      plan.deletions.push({
        action: 'delete',
        kind: obj.kind,
        id: obj.marker?.id,
        name: obj.state.name,
        serverId: obj.serverId,
      });
    }
    if (obj.marker === undefined)
      plan.unmanaged.push({ kind: obj.kind, serverId: obj.serverId, name: obj.state.name });
  }
  return matched;
}

export function describeKind(kind: Kind): string {
  return {
    inboundTrunk: 'inbound trunk',
    outboundTrunk: 'outbound trunk',
    dispatchRule: 'dispatch rule',
  }[kind];
}

/**
 * Field-by-field difference. Lists of numbers, addresses and trunks are sets; a server that does not
 * return a password is compared through the hash in the marker.
 */
export function diffFields<K extends Kind>(
  before: StateOf[K] | undefined,
  after: StateOf[K],
  marker: Marker | undefined,
): FieldChange[] {
  const changes: FieldChange[] = [];
  const b = before as Record<string, unknown> | undefined;
  for (const [field, value] of Object.entries(after)) {
    const secret = SECRET_FIELDS.has(field);
    const old = b?.[field];
    if (b === undefined) {
      if (!isEmpty(value)) changes.push({ field, before: undefined, after: value, secret });
      continue;
    }
    if (secret && old === '' && marker?.secretHash !== undefined && field === 'authPassword') {
      // The server hides it, but the marker says one is set.
      if (secretHash(value as string) !== marker.secretHash)
        changes.push({ field, before: '(hidden)', after: value, secret });
      continue;
    }
    if (canonical(old) !== canonical(value))
      changes.push({ field, before: old, after: value, secret });
  }
  return changes;
}

function secretHashStale(marker: Marker | undefined, state: StateOf[Kind]): boolean {
  if (!('authPassword' in state)) return false;
  return marker?.secretHash !== secretHash(state.authPassword);
}

function isEmpty(v: unknown): boolean {
  if (v === '' || v === false || v === 0 || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length === 0;
  return false;
}

function canonical(v: unknown): string {
  const sortSets = (x: unknown): unknown => {
    if (Array.isArray(x))
      return x.every((e) => typeof e === 'string') ? [...x].sort() : x.map(sortSets);
    if (typeof x === 'object' && x !== null)
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>)
          .sort(([k1], [k2]) => k1.localeCompare(k2))
          .map(([k, e]) => [k, sortSets(e)]),
      );
    return x;
  };
  return JSON.stringify(sortSets(v ?? null));
}

export function planHasChanges(plan: Plan): boolean {
  return plan.upserts.length > 0 || plan.deletions.length > 0;
}
