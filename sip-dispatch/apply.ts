import { RoomAgentDispatch, RoomConfiguration, type SipClient } from 'livekit-server-sdk';
import {
  MANAGED_METADATA,
  planSipConfig,
  type CurrentRule,
  type CurrentTrunk,
  type Plan,
} from './plan.js';
import type { DispatchRuleSpec, SipConfigSpec } from './schema.js';

/** The only part of sip-dispatch that talks to the server. */
export async function readCurrent(
  sip: SipClient,
): Promise<{ trunks: CurrentTrunk[]; rules: CurrentRule[] }> {
  const [trunkInfos, ruleInfos] = await Promise.all([
    sip.listSipInboundTrunk(),
    sip.listSipDispatchRule(),
  ]);
  const trunkNames = new Map(trunkInfos.map((t) => [t.sipTrunkId, t.name]));
  const trunks: CurrentTrunk[] = trunkInfos.map((t) => ({
    id: t.sipTrunkId,
    name: t.name,
    managed: t.metadata === MANAGED_METADATA,
    spec: {
      name: t.name,
      numbers: [...t.numbers],
      allowedAddresses: [...t.allowedAddresses],
      allowedNumbers: [...t.allowedNumbers],
    },
  }));
  const rules: CurrentRule[] = ruleInfos.map((r) => {
    const rule = r.rule?.rule;
    const common = {
      name: r.name,
      trunks: r.trunkIds.map((id) => trunkNames.get(id) ?? id),
      agents: (r.roomConfig?.agents ?? []).map((a) => ({
        name: a.agentName,
        ...(a.metadata === '' ? {} : { metadata: a.metadata }),
      })),
    };
    const spec: DispatchRuleSpec =
      rule?.case === 'dispatchRuleDirect'
        ? { ...common, type: 'direct', roomName: rule.value.roomName }
        : {
            ...common,
            type: 'individual',
            ...(rule?.case === 'dispatchRuleIndividual'
              ? { roomPrefix: rule.value.roomPrefix }
              : {}),
          };
    return {
      id: r.sipDispatchRuleId,
      name: r.name,
      managed: r.metadata === MANAGED_METADATA,
      spec,
    };
  });
  return { trunks, rules };
}

export async function plan(sip: SipClient, desired: SipConfigSpec): Promise<Plan> {
  return planSipConfig(desired, await readCurrent(sip));
}

/** Executes a conflict-free plan: trunks first (rules refer to them by ID), then rules. */
export async function applyPlan(sip: SipClient, p: Plan): Promise<void> {
  if (p.conflicts.length > 0) throw new Error(`refusing to apply: ${p.conflicts.join('; ')}`);
  const trunkIds = new Map<string, string>();
  for (const step of p.trunks) {
    if (step.action === 'unchanged') {
      trunkIds.set(step.spec.name, step.id);
      continue;
    }
    if (step.action === 'replace') await sip.deleteSipTrunk(step.id);
    const created = await sip.createSipInboundTrunk(step.spec.name, step.spec.numbers, {
      metadata: MANAGED_METADATA,
      allowedAddresses: step.spec.allowedAddresses,
      allowedNumbers: step.spec.allowedNumbers,
    });
    trunkIds.set(step.spec.name, created.sipTrunkId);
  }
  for (const step of p.rules) {
    if (step.action === 'unchanged') continue;
    if (step.action === 'replace') await sip.deleteSipDispatchRule(step.id);
    const r = step.spec;
    await sip.createSipDispatchRule(
      r.type === 'direct'
        ? { type: 'direct', roomName: r.roomName ?? '' }
        : { type: 'individual', roomPrefix: r.roomPrefix ?? '' },
      {
        name: r.name,
        metadata: MANAGED_METADATA,
        trunkIds: r.trunks.map((t) => trunkIds.get(t) ?? t),
        roomConfig: new RoomConfiguration({
          agents: r.agents.map(
            (a) => new RoomAgentDispatch({ agentName: a.name, metadata: a.metadata ?? '' }),
          ),
        }),
      },
    );
  }
}
