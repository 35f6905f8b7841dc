import { SipDispatchError } from './errors.js';
import { markerMetadata, secretHash, type DispatchRuleState, type StateOf } from './model.js';
import { desiredKey, type Change, type Plan } from './plan.js';
import type { SipApi } from './sip-api.js';

/**
 * Runs a plan's changes one at a time, in order: (with prune) the deletions a create or update
 * needs out of the way first, then creates and updates of inbound trunks, outbound trunks and
 * rules, then (with prune) the other deletions, rules before trunks. Creating before deleting means
 * a failed create never leaves a number without its object. Each object is created whole in one
 * call, so a failure midway leaves only complete, marked objects: the error lists exactly what was
 * applied, and a re-run plans from the server again and converges.
 */
export interface AppliedChange {
  change: Change;
  serverId: string;
}

export class ApplyError extends SipDispatchError {
  constructor(
    readonly applied: AppliedChange[],
    readonly failed: { change: Change; error: string },
    readonly notAttempted: Change[],
    cause: unknown,
  ) {
    super(
      'sip_apply_failed',
      `The server refused a change: ${failed.error}. ${applied.length} change(s) were applied before it and ${notAttempted.length} were not attempted; fix the cause and run apply again (it continues from what the server has).`,
      { cause, retryable: true },
    );
    this.name = 'ApplyError';
  }
}

export type ApplyScope = 'upserts' | 'deletions' | 'all';

export async function applyPlan(
  api: SipApi,
  plan: Plan,
  scope: ApplyScope = 'upserts',
): Promise<AppliedChange[]> {
  const deletions = scope === 'upserts' ? [] : plan.deletions;
  const steps: Change[] = [
    ...deletions.filter((d) => d.before !== undefined),
    ...(scope === 'deletions' ? [] : plan.upserts),
    ...deletions.filter((d) => d.before === undefined),
  ];
  const trunkIds = new Map(Object.entries(plan.trunkServerIds));
  const applied: AppliedChange[] = [];
  for (const [i, change] of steps.entries()) {
    try {
      const serverId = await applyChange(api, plan, change, trunkIds);
      applied.push({ change, serverId });
    } catch (err) {
      throw new ApplyError(
        applied,
        { change, error: err instanceof Error ? err.message : String(err) },
        steps.slice(i + 1),
        err,
      );
    }
  }
  return applied;
}

async function applyChange(
  api: SipApi,
  plan: Plan,
  change: Change,
  trunkIds: Map<string, string>,
): Promise<string> {
  if (change.action === 'delete') {
    await api.delete(change.kind, change.serverId);
    return change.serverId;
  }
  const want = plan.desired[desiredKey(change.kind, change.id)];
  if (want === undefined) throw new Error(`no desired state for ${change.kind} ${change.id}`);
  let state: StateOf[typeof want.kind] = want.state;
  if (want.kind === 'dispatchRule') {
    const rule = want.state as DispatchRuleState;
    state = {
      ...rule,
      trunks: rule.trunks.map((t) => {
        const id = trunkIds.get(t);
        if (id === undefined) throw new Error(`trunk "${t}" has no server ID yet`);
        return id;
      }),
    };
  }
  const hash = 'authPassword' in state ? secretHash(state.authPassword) : undefined;
  const metadata = markerMetadata({
    id: want.id,
    ...(hash === undefined ? {} : { secretHash: hash }),
  });
  const serverId =
    change.action === 'create'
      ? await api.create(want.kind, state, metadata, want.serverFields)
      : (await api.update(want.kind, change.serverId, state, metadata, want.serverFields),
        change.serverId);
  if (want.kind === 'inboundTrunk') trunkIds.set(want.id, serverId);
  return serverId;
}
