import {
  parseMarker,
  type Kind,
  type ServerObject,
  type ServerState,
  type StateOf,
} from './model.js';
import { deepMerge } from './protocol-fields.js';
import type { SipApi } from './sip-api.js';

type Fields = Record<string, unknown>;

/**
 * An in-memory server for unit tests: objects, IDs and a log of the calls made. Each object has
 * fields beyond the model (`unmodelled`, seeded by a test as a console or `lk` would set them);
 * update keeps them, as the real adapter's read-modify-write does.
 */
export class FakeSipApi implements SipApi {
  readonly calls: string[] = [];
  private readonly objects = new Map<
    string,
    { kind: Kind; state: unknown; metadata: string; unmodelled: Fields }
  >();
  private next = 1;

  seed<K extends Kind>(kind: K, state: StateOf[K], metadata = '', unmodelled: Fields = {}): string {
    const id = `${kind === 'dispatchRule' ? 'SDR' : 'ST'}_${this.next++}`;
    this.objects.set(id, {
      kind,
      state: structuredClone(state),
      metadata,
      unmodelled: structuredClone(unmodelled),
    });
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
        unmodelled: structuredClone(o.unmodelled),
      } as ServerObject;
    });
    const of = <K extends Kind>(k: K) => all.filter((o) => o.kind === k) as ServerObject<K>[];
    return Promise.resolve({
      inboundTrunks: of('inboundTrunk'),
      outboundTrunks: of('outboundTrunk'),
      dispatchRules: of('dispatchRule'),
    });
  }

  create<K extends Kind>(
    kind: K,
    state: StateOf[K],
    metadata: string,
    serverFields: Fields = {},
  ): Promise<string> {
    this.calls.push(`create ${kind} ${state.name}`);
    return Promise.resolve(this.seed(kind, state, metadata, serverFields));
  }

  update<K extends Kind>(
    kind: K,
    serverId: string,
    state: StateOf[K],
    metadata: string,
    serverFields: Fields = {},
  ): Promise<void> {
    this.calls.push(`update ${kind} ${serverId}`);
    const current = this.objects.get(serverId);
    if (current === undefined) return Promise.reject(new Error(`${serverId} not found`));
    this.objects.set(serverId, {
      kind,
      state: structuredClone(state),
      metadata,
      unmodelled: deepMerge(current.unmodelled, structuredClone(serverFields)) as Fields,
    });
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
    create: async (kind, state, metadata, serverFields) => {
      tick();
      return api.create(kind, state, metadata, serverFields);
    },
    update: async (kind, serverId, state, metadata, serverFields) => {
      tick();
      return api.update(kind, serverId, state, metadata, serverFields);
    },
    delete: async (kind, serverId) => {
      tick();
      return api.delete(kind, serverId);
    },
  };
}
