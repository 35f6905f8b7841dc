import type { Kind, ServerState, StateOf } from './model.js';

/**
 * Everything sip-dispatch needs from a LiveKit server (the local one or Cloud). Rules' `trunks`
 * are server trunk IDs at this boundary. The real adapter is livekit-sip-api.ts; the fake for unit
 * tests is sip-api.fake.ts.
 */
export interface SipApi {
  read(): Promise<ServerState>;
  /** Creates the object with its full state and metadata in one call; returns its server ID. */
  create<K extends Kind>(kind: K, state: StateOf[K], metadata: string): Promise<string>;
  /** Replaces the object's state and metadata in place (its ID stays). */
  update<K extends Kind>(
    kind: K,
    serverId: string,
    state: StateOf[K],
    metadata: string,
  ): Promise<void>;
  delete(kind: Kind, serverId: string): Promise<void>;
}
