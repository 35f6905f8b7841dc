import {
  parseMarker,
  type Kind,
  type ServerObject,
  type ServerState,
  type StateOf,
} from './model.js';
import type { SipApi } from './sip-api.js';

/** An in-memory server for unit tests: objects, IDs and a log of the calls made. */
export class FakeSipApi implements SipApi {
  readonly calls: string[] = [];
  private readonly objects = new Map<string, { kind: Kind; state: unknown; metadata: string }>();
  private next = 1;

  seed<K extends Kind>(kind: K, state: StateOf[K], metadata = ''): string {
    const id = `${kind === 'dispatchRule' ? 'SDR' : 'ST'}_${this.next++}`;
    this.objects.set(id, { kind, state: structuredClone(state), metadata });
    return id;
  }

  read(): Promise<ServerState> {
    const all = [...this.objects].map(([serverId, o]) => {
      const marker = parseMarker(o.metadata);
      return {
        kind: o.kind,
        serverId,
        ...(marker === undefined ? {} : { marker }),
        state: structuredClone(o.state),
      } as ServerObject;
    });
    const of = <K extends Kind>(k: K) => all.filter((o) => o.kind === k) as ServerObject<K>[];
    return Promise.resolve({
      inboundTrunks: of('inboundTrunk'),
      outboundTrunks: of('outboundTrunk'),
      dispatchRules: of('dispatchRule'),
    });
  }

  create<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Promise<string> {
    this.calls.push(`create ${kind} ${state.name}`);
    return Promise.resolve(this.seed(kind, state, metadata));
  }

  update<K extends Kind>(
    kind: K,
    serverId: string,
    state: StateOf[K],
    metadata: string,
  ): Promise<void> {
    this.calls.push(`update ${kind} ${serverId}`);
    if (!this.objects.has(serverId)) return Promise.reject(new Error(`${serverId} not found`));
    this.objects.set(serverId, { kind, state: structuredClone(state), metadata });
    return Promise.resolve();
  }

  delete(kind: Kind, serverId: string): Promise<void> {
    this.calls.push(`delete ${kind} ${serverId}`);
    this.objects.delete(serverId);
    return Promise.resolve();
  }
}

/**
 * Wraps an API so that the change call number `failAt` (1-based: creates, updates and deletes)
 * throws: the failure midway that apply must report exactly and a re-run must converge from.
 */
export function failingAt(api: SipApi, failAt: number): SipApi {
  let n = 0;
  const tick = () => {
    n += 1;
    if (n === failAt) throw new Error(`injected failure at change ${failAt}`);
  };
  return {
    read: () => api.read(),
    create: async (kind, state, metadata) => {
      tick();
      return api.create(kind, state, metadata);
    },
    update: async (kind, serverId, state, metadata) => {
      tick();
      return api.update(kind, serverId, state, metadata);
    },
    delete: async (kind, serverId) => {
      tick();
      return api.delete(kind, serverId);
    },
  };
}
