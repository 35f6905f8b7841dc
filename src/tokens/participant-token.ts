import { randomUUID } from 'node:crypto';
import { AccessToken, RoomAgentDispatch, RoomConfiguration } from 'livekit-server-sdk';

/**
 * A browser caller's token: valid for one new room only, for a few minutes, and carrying the
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
  /** Unit: seconds. */
  ttlSeconds: number;
}

export interface ParticipantToken {
  token: string;
  roomName: string;
  identity: string;
}

export async function createParticipantToken(
  req: ParticipantTokenRequest,
): Promise<ParticipantToken> {
  const id = randomUUID().slice(0, 12);
  const roomName = `web-${id}`;
  const identity = `web-user-${id}`;
  const token = new AccessToken(req.apiKey, req.apiSecret, {
    identity,
    ttl: req.ttlSeconds,
    ...(req.displayName === undefined ? {} : { name: req.displayName }),
    ...(req.userId === undefined ? {} : { attributes: { 'user.id': req.userId } }),
  });
  token.addGrant({
    roomJoin: true,
    room: roomName,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  token.roomConfig = new RoomConfiguration({
    agents: [
      new RoomAgentDispatch({ agentName: req.agentName, metadata: req.agentMetadata ?? '' }),
    ],
  });
  return { token: await token.toJwt(), roomName, identity };
}
