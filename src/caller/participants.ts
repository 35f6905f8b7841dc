import { ParticipantKind } from '@livekit/rtc-node';
import type { ParticipantInfo } from 'livekit-server-sdk';
import type { ParticipantSnapshot } from './caller.js';

/** Set by livekit-server and the agents framework on an agent's participant. */
export const AGENT_ATTR = { agentName: 'lk.agent.name' } as const;

/**
 * livekit/protocol's ParticipantInfo.Kind (what the server API lists) and rtc-node's
 * ParticipantKind (what a room connection sees) number the same kinds differently from CONNECTOR
 * on (7 and 8 in the protocol, 5 and 6 in rtc-node).
 */
const KIND_BY_PROTOCOL_KIND: Readonly<Record<number, ParticipantKind>> = {
  0: ParticipantKind.STANDARD,
  1: ParticipantKind.INGRESS,
  2: ParticipantKind.EGRESS,
  3: ParticipantKind.SIP,
  4: ParticipantKind.AGENT,
  7: ParticipantKind.CONNECTOR,
  8: ParticipantKind.BRIDGE,
};

/** A participant as the server API lists it, in the caller model's terms; undefined for an unknown kind. */
export function snapshotOf(
  p: Pick<ParticipantInfo, 'identity' | 'name' | 'kind' | 'attributes'>,
): ParticipantSnapshot | undefined {
  const kind = KIND_BY_PROTOCOL_KIND[p.kind as number];
  if (kind === undefined) return undefined;
  return {
    identity: p.identity,
    kind,
    attributes: p.attributes,
    ...(p.name === '' ? {} : { name: p.name }),
  };
}

/** Participants that call: browsers and phone legs (not agents, recorders or ingress). */
const CALLER_KINDS: ReadonlySet<ParticipantKind> = new Set([
  ParticipantKind.STANDARD,
  ParticipantKind.SIP,
]);

/** Whether `p` is a caller: a browser user or a phone leg. */
export function isCaller(p: Pick<ParticipantSnapshot, 'kind'>): boolean {
  return CALLER_KINDS.has(p.kind);
}

/** Whether `p` is an agent; with `agentName`, the agent registered under that name. */
export function isAgent(
  p: Pick<ParticipantSnapshot, 'kind' | 'attributes'>,
  agentName?: string,
): boolean {
  if (p.kind !== ParticipantKind.AGENT) return false;
  return agentName === undefined || p.attributes[AGENT_ATTR.agentName] === agentName;
}
