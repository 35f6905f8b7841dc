import type { TransferOptions } from './options.js';
import type { TransferFailure } from './outcome.js';

/** An outbound trunk as the server lists it: enough to pick one by name. */
export interface OutboundTrunkRef {
  sipTrunkId: string;
  name: string;
}

/**
 * The trunk that dials the human: the configured ID as is, or the one trunk on the server with
 * the configured name. Trunk names are not unique on the server, so two of one name is an error
 * rather than a guess.
 */
export function pickOutboundTrunk(
  human: Pick<NonNullable<TransferOptions['human']>, 'outboundTrunkId' | 'outboundTrunk'>,
  trunks: readonly OutboundTrunkRef[],
): { trunkId: string } | TransferFailure {
  if (human.outboundTrunkId !== undefined) return { trunkId: human.outboundTrunkId };
  const name = human.outboundTrunk ?? '';
  const named = trunks.filter((t) => t.name === name);
  const [only] = named;
  if (named.length === 1 && only !== undefined) return { trunkId: only.sipTrunkId };
  return {
    status: 'not_configured',
    detail:
      named.length === 0
        ? `no outbound trunk named "${name}" on the server: create it (npm run sip -- apply) or fix transfer.human.outboundTrunk`
        : `${named.length} outbound trunks are named "${name}": give them distinct names, or set transfer.human.outboundTrunkId instead`,
  };
}
