import type { SipClient } from 'livekit-server-sdk';

/** How long a trunk's header mapping is reused before it is read again. Unit: ms. */
const TTL_MS = 60_000;

type TrunkLister = Pick<SipClient, 'listSipInboundTrunk'>;

/**
 * The inbound trunks' `headers_to_attributes`, turned around (attribute key -> header name) for
 * the caller model, read from the server once per trunk and reused for `TTL_MS` within a job
 * process. A failed read maps nothing: the call goes on without those headers.
 */
export class TrunkHeaderDirectory {
  private readonly cache = new Map<
    string,
    { atMs: number; map: Promise<Record<string, string>> }
  >();

  constructor(
    private readonly sip: TrunkLister,
    private readonly nowMs: () => number = Date.now,
  ) {}

  headerAttributes(trunkId: string): Promise<Record<string, string>> {
    const hit = this.cache.get(trunkId);
    if (hit !== undefined && this.nowMs() - hit.atMs < TTL_MS) return hit.map;
    const map = this.read(trunkId);
    this.cache.set(trunkId, { atMs: this.nowMs(), map });
    // A failure is not cached: the next call asks again.
    map.catch(() => this.cache.delete(trunkId));
    return map;
  }

  private async read(trunkId: string): Promise<Record<string, string>> {
    const [trunk] = await this.sip.listSipInboundTrunk({ trunkIds: [trunkId] });
    return invertHeaderMapping(trunk?.headersToAttributes ?? {});
  }
}

/** `{ 'X-Customer-Tier': 'customer.tier' }` -> `{ 'customer.tier': 'x-customer-tier' }`. */
export function invertHeaderMapping(
  headersToAttributes: Readonly<Record<string, string>>,
): Record<string, string> {
  const inverted: Record<string, string> = {};
  for (const [header, attribute] of Object.entries(headersToAttributes))
    if (attribute !== '') inverted[attribute] = header.toLowerCase();
  return inverted;
}
