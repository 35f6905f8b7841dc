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
import { deepMerge, fieldNames } from './protocol-fields.js';
import { normalizeNumber } from './validate.js';

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
      /**
       * Set when this deletion must run before the creates and updates: it holds a number (or a
       * rule's match) that one of them takes over. Other deletions run after them, so a failed
       * create never leaves a number without its object.
       */
      before?: string;
    };

export interface Plan {
  /** Creates and updates, in the order apply runs them: inbound trunks, outbound trunks, rules. */
  upserts: Change[];
  /**
   * What prune deletes: managed objects no longer in the config (and, if asked, unmarked ones);
   * those with `before` first, then the rest after the upserts (rules before trunks in each).
   */
  deletions: Extract<Change, { action: 'delete' }>[];
  unchanged: { kind: Kind; id: string; serverId: string }[];
  /** Objects without a marker that the plan leaves alone. */
  unmanaged: { kind: Kind; serverId: string; name: string }[];
  /**
   * Config entries whose server object has fields the config does not describe (set in the
   * console, with `lk`, or by a newer server): apply keeps them; export writes them as serverFields.
   */
  undescribed: { kind: Kind; id: string; serverId: string; fields: string[] }[];
  /** How many objects prune would delete out of how many it could (managed, or all if asked). */
  deletable: number;
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
    undescribed: [],
    deletable: 0,
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
  orderDeletions(plan, server, rulesAsEntries);
  return plan;
}

const deleteOrder = (kind: Kind) => (kind === 'dispatchRule' ? 0 : 1);

/** Any of a and b in common; an empty list means "any" when `wildcard`. */
function overlaps(a: readonly string[], b: readonly string[], wildcard: boolean): boolean {
  if (a.length === 0 || b.length === 0) return wildcard || (a.length === 0 && b.length === 0);
  const set = new Set(a.map(normalizeNumber));
  return b.some((x) => set.has(normalizeNumber(x)));
}

const sameTrunks = (a: readonly string[], b: readonly string[]) =>
  a.length === 0 || b.length === 0 || a.some((t) => b.includes(t));

/**
 * Marks the deletions that must come first: a trunk holding a number (for the same callers) that
 * a created or updated trunk takes, a rule matching what a created or updated rule matches, and
 * the rules of a trunk deleted first. Then sorts: first ones, rules before trunks.
 */
function orderDeletions(
  plan: Plan,
  server: ServerState,
  rulesAsEntries: ServerObject<'dispatchRule'>[],
): void {
  const stateOf = new Map<string, StateOf[Kind]>(
    [...server.inboundTrunks, ...server.outboundTrunks, ...rulesAsEntries].map((o) => [
      o.serverId,
      o.state,
    ]),
  );
  const upserted = plan.upserts.flatMap((c) => {
    const want = c.action === 'delete' ? undefined : plan.desired[desiredKey(c.kind, c.id)];
    return want === undefined ? [] : [want];
  });
  for (const d of plan.deletions) {
    const gone = stateOf.get(d.serverId);
    if (gone === undefined) continue;
    for (const want of upserted) {
      if (want.kind !== d.kind || d.before !== undefined) continue;
      if (want.kind === 'inboundTrunk') {
        const a = gone as StateOf['inboundTrunk'];
        const b = want.state as StateOf['inboundTrunk'];
        if (
          overlaps(a.numbers, b.numbers, false) &&
          overlaps(a.allowedNumbers, b.allowedNumbers, true)
        )
          d.before = `it holds a number inbound trunk ${want.id} takes`;
      } else if (want.kind === 'dispatchRule') {
        const a = gone as StateOf['dispatchRule'];
        const b = want.state as StateOf['dispatchRule'];
        if (
          sameTrunks(a.trunks, b.trunks) &&
          overlaps(a.calledNumbers, b.calledNumbers, true) &&
          overlaps(a.callerNumbers, b.callerNumbers, true) &&
          a.pin === b.pin
        )
          d.before = `it matches the calls dispatch rule ${want.id} takes`;
      }
    }
  }
  // A trunk deleted first takes the rules that name it (and are deleted too) with it.
  for (const t of plan.deletions) {
    if (t.kind !== 'inboundTrunk' || t.before === undefined) continue;
    const entry = server.inboundTrunks.find((o) => o.serverId === t.serverId);
    const names = [t.serverId, entry?.marker?.id, `${entry?.marker?.id} (not in config)`];
    for (const r of plan.deletions) {
      if (r.kind !== 'dispatchRule' || r.before !== undefined) continue;
      const rule = stateOf.get(r.serverId) as StateOf['dispatchRule'] | undefined;
      if (rule?.trunks.some((x) => names.includes(x)) === true)
        r.before = `it names inbound trunk ${t.id ?? t.serverId}, deleted first`;
    }
  }
  const rank = (c: Plan['deletions'][number]) =>
    (c.before === undefined ? 2 : 0) + deleteOrder(c.kind);
  plan.deletions.sort((a, b) => rank(a) - rank(b));
}

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
        fields: [
          ...diffFields(undefined, want.state, undefined),
          ...(Object.keys(want.serverFields).length === 0
            ? []
            : [
                {
                  field: 'serverFields',
                  before: undefined,
                  after: want.serverFields,
                  secret: false,
                },
              ]),
        ],
      });
      continue;
    }
    used.add(found);
    matched.set(want.id, found);
    const fields = diffFields(found.state, want.state, found.marker);
    const withServerFields = deepMerge(found.unmodelled, want.serverFields);
    if (canonical(withServerFields) !== canonical(found.unmodelled))
      fields.push({
        field: 'serverFields',
        before: found.unmodelled,
        after: withServerFields,
        secret: false,
      });
    const described = new Set(fieldNames(want.serverFields));
    const undescribed = fieldNames(found.unmodelled)
      .filter((f) => !described.has(f))
      .sort();
    if (undescribed.length > 0)
      plan.undescribed.push({
        kind: want.kind,
        id: want.id,
        serverId: found.serverId,
        fields: undescribed,
      });
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
    if (obj.marker !== undefined || options.includeUnmanaged === true) plan.deletable += 1;
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

/**
 * Why prune (or apply --prune) should not run this plan without --confirm-destroy: it deletes every
 * object it could, or half of them or more (two or more), as an empty or truncated file would.
 */
export function destructiveReason(plan: Plan): string | undefined {
  const n = plan.deletions.length;
  if (n === 0) return undefined;
  if (n === plan.deletable)
    return `it would delete all ${n} object(s) sip-dispatch could delete on this server`;
  if (n >= 2 && n * 2 >= plan.deletable)
    return `it would delete ${n} of the ${plan.deletable} object(s) sip-dispatch could delete on this server`;
  return undefined;
}

export function planHasChanges(plan: Plan): boolean {
  return plan.upserts.length > 0 || plan.deletions.length > 0;
}
