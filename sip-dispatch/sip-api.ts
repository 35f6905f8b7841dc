import type { Kind, ServerState, StateOf } from './model.js';

/**
 * Everything sip-dispatch needs from a LiveKit server (the local one or Cloud). Rules' `trunks`
 * are server trunk IDs at this boundary. The real adapter is livekit-sip-api.ts; the fake for unit
 * tests is sip-api.fake.ts.
 */
export interface SipApi {
  /** Every object, each with its modelled state and the fields beyond the model (`unmodelled`). */
  read(): Promise<ServerState>;
  /**
   * Creates the object with its full state, metadata and serverFields (protocol fields beyond the
   * model) in one call; returns its server ID.
   */
  create<K extends Kind>(
    kind: K,
    state: StateOf[K],
    metadata: string,
    serverFields?: Record<string, unknown>,
  ): Promise<string>;
  /**
   * Read-modify-write in place (its ID stays): the object as the server has it now, with the
   * modelled fields and metadata replaced and serverFields merged in. Every other field is kept.
   */
  update<K extends Kind>(
    kind: K,
    serverId: string,
    state: StateOf[K],
    metadata: string,
    serverFields?: Record<string, unknown>,
  ): Promise<void>;
  delete(kind: Kind, serverId: string): Promise<void>;
}
