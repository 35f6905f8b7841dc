import type { DispatchRuleSpec, InboundTrunkSpec, SipConfigSpec } from './schema.js';

/**
 * A plan is plain data: what apply will create, replace or leave alone, computed from the desired
 * config and what the server has. Objects are matched by name and only objects this tool manages
 * (marked in their metadata) are ever replaced.
 */
export const MANAGED_METADATA = JSON.stringify({ managedBy: 'switchboard/sip-dispatch' });

export interface CurrentTrunk {
  id: string;
  name: string;
  managed: boolean;
  spec: InboundTrunkSpec;
}

export interface CurrentRule {
  id: string;
  name: string;
  managed: boolean;
  /** Trunk IDs resolved back to names where the trunk is known. */
  spec: DispatchRuleSpec;
}

export type Step<T> =
  | { action: 'create'; spec: T }
  | { action: 'replace'; id: string; spec: T }
  | { action: 'unchanged'; id: string; spec: T };

export interface Plan {
  trunks: Step<InboundTrunkSpec>[];
  rules: Step<DispatchRuleSpec>[];
  /** Same-named objects this tool does not manage: apply refuses to touch them. */
  conflicts: string[];
}

export function planSipConfig(
  desired: SipConfigSpec,
  current: { trunks: CurrentTrunk[]; rules: CurrentRule[] },
): Plan {
  const conflicts: string[] = [];
  const step = <T>(
    kind: string,
    spec: T & { name: string },
    found: { id: string; managed: boolean; spec: T } | undefined,
  ): Step<T> | undefined => {
    if (found === undefined) return { action: 'create', spec };
    if (!found.managed) {
      conflicts.push(
        `${kind} "${spec.name}" (${found.id}) exists but was not created by sip-dispatch; rename it or delete it`,
      );
      return undefined;
    }
    return sameJson(found.spec, spec)
      ? { action: 'unchanged', id: found.id, spec }
      : { action: 'replace', id: found.id, spec };
  };
  const trunks = desired.inboundTrunks.flatMap(
    (t) =>
      step(
        'inbound trunk',
        t,
        current.trunks.find((c) => c.name === t.name),
      ) ?? [],
  );
  // A replaced trunk gets a new ID, so every rule naming it must be re-created too.
  const replacedTrunks = new Set(
    trunks.filter((s) => s.action !== 'unchanged').map((s) => s.spec.name),
  );
  const rules = desired.dispatchRules.flatMap((r) => {
    const s = step(
      'dispatch rule',
      r,
      current.rules.find((c) => c.name === r.name),
    );
    if (s?.action === 'unchanged' && r.trunks.some((t) => replacedTrunks.has(t)))
      return [{ action: 'replace' as const, id: s.id, spec: r }];
    return s ?? [];
  });
  return { trunks, rules, conflicts };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}
