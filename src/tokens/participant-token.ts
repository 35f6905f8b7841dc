import { randomUUID } from 'node:crypto';
import {
  AccessToken,
  RoomAgentDispatch,
  RoomConfiguration,
  TrackSource,
  type VideoGrant,
} from 'livekit-server-sdk';

/**
 * A browser caller's token: valid for one new room only, for a short while, and carrying the
 * agent dispatch in its room configuration, so the room is created with the agent already on the
 * way (the browser twin of a SIP dispatch rule's `room_config.agents`).
 */
export interface ParticipantTokenRequest {
  apiKey: string;
  apiSecret: string;
  agentName: string;
  /** JSON per-call options for the agent (see src/dispatch/call-options.ts). */
  agentMetadata?: string;
  displayName?: string;
  /** Application user ID, from your own authentication; becomes the `user.id` attribute. */
  userId?: string;
  /**
   * Unit: seconds. How long the token may be used to join: every join of a room that is gone
   * creates it again and dispatches another agent, so keep it short; a connected caller's session
   * outlives it (LiveKit refreshes the token of a connected participant).
   */
  ttlSeconds: number;
  /**
   * Groups one user's rooms under `web-<roomTag>-`, so that their calls can be found in LiveKit
   * (see `userRoomPrefix`). Letters, digits and `-`. Default: none (`web-<id>`).
   */
  roomTag?: string;
}

export interface ParticipantToken {
  token: string;
  roomName: string;
  identity: string;
}

/**
 * What the page may do, and nothing more: publish its microphone and hear the agent. No data
 * messages (the agents framework turns chat messages into LLM turns), no camera or screen, no
 * metadata of its own.
 */
export const BROWSER_CALLER_GRANT: Readonly<Omit<VideoGrant, 'room'>> = Object.freeze({
  roomJoin: true,
  canSubscribe: true,
  canPublish: true,
  canPublishSources: [TrackSource.MICROPHONE],
  canPublishData: false,
  canUpdateOwnMetadata: false,
});

/** The room-name prefix of one user's calls (`roomTag` of the token request). */
export function userRoomPrefix(roomTag: string): string {
  return `web-${roomTag}-`;
}

export async function createParticipantToken(
  req: ParticipantTokenRequest,
): Promise<ParticipantToken> {
  if (req.roomTag !== undefined && !/^[a-zA-Z0-9-]{1,32}$/.test(req.roomTag))
    throw new RangeError('roomTag: 1 to 32 letters, digits or "-"');
  const id = randomUUID().slice(0, 12);
  const roomName = req.roomTag === undefined ? `web-${id}` : `${userRoomPrefix(req.roomTag)}${id}`;
  const identity = `web-user-${id}`;
  const token = new AccessToken(req.apiKey, req.apiSecret, {
    identity,
    ttl: req.ttlSeconds,
    ...(req.displayName === undefined ? {} : { name: req.displayName }),
    ...(req.userId === undefined ? {} : { attributes: { 'user.id': req.userId } }),
  });
  token.addGrant({ ...BROWSER_CALLER_GRANT, room: roomName });
  token.roomConfig = new RoomConfiguration({
    agents: [
      new RoomAgentDispatch({ agentName: req.agentName, metadata: req.agentMetadata ?? '' }),
    ],
  });
  return { token: await token.toJwt(), roomName, identity };
}
