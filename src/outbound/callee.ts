import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import type { LiveKitAccess } from '../transfer/livekit-ports.js';
import { pickOutboundTrunk, type OutboundTrunkRef } from '../transfer/outbound-trunk.js';
import { toSipSeconds } from '../transfer/sip-units.js';
import type { OutboundOptions } from './options.js';
import { withOutcome } from './outcome-report.js';
import { dialOutcome, type OutboundOutcome } from './outcome.js';

/**
 * The callee's participant identity: fixed, so the job finds them, and free of their number
 * (identities reach logs; livekit-sip's own default would be `sip_<number>`).
 */
export const CALLEE_IDENTITY = 'callee';

/** What dialling the callee needs from LiveKit; a fake stands in for it in unit tests. */
export interface CalleePorts {
  outboundTrunks: () => Promise<readonly OutboundTrunkRef[]>;
  /** CreateSIPParticipant, returning once the callee answered; rejects with the SIP status. */
  dial: (request: {
    trunkId: string;
    to: string;
    room: string;
    from?: string;
    ringingTimeoutMs: number;
  }) => Promise<void>;
  /** Tells whoever placed the call the outcome (outcome-report.ts). */
  report: (room: string, outcome: OutboundOutcome) => Promise<void>;
}

/**
 * Dials the callee and waits for the answer: `answered` with the ringing time, or why not. The
 * trunk is looked up by name first, so a missing one is a clear `failed`, not a dial error.
 */
export async function dialCallee(
  ports: CalleePorts,
  room: string,
  outbound: OutboundOptions,
  now: () => number = () => performance.now(),
): Promise<OutboundOutcome> {
  let trunkId: string;
  try {
    const trunk = pickOutboundTrunk(
      { outboundTrunkId: outbound.trunkId, outboundTrunk: outbound.trunk },
      outbound.trunkId === undefined ? await ports.outboundTrunks() : [],
    );
    if (!('trunkId' in trunk))
      return { result: 'failed', detail: trunk.detail.replace('transfer.human.', 'outbound.') };
    trunkId = trunk.trunkId;
  } catch (err) {
    return {
      result: 'failed',
      detail: `could not list the outbound trunks: ${(err as Error).message}`,
    };
  }
  const dialledAt = now();
  try {
    await ports.dial({
      trunkId,
      to: outbound.to,
      room,
      ...(outbound.from === undefined ? {} : { from: outbound.from }),
      ringingTimeoutMs: outbound.ringingTimeoutMs,
    });
  } catch (err) {
    return dialOutcome(err, Math.round(now() - dialledAt));
  }
  return { result: 'answered', detail: 'answered', ringingMs: Math.round(now() - dialledAt) };
}

export function liveKitCalleePorts(livekit: LiveKitAccess): CalleePorts {
  const sip = new SipClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  return {
    outboundTrunks: () => sip.listSipOutboundTrunk(),
    dial: async (r) => {
      await sip.createSipParticipant(r.trunkId, r.to, r.room, {
        participantIdentity: CALLEE_IDENTITY,
        participantName: CALLEE_IDENTITY,
        waitUntilAnswered: true,
        ringingTimeout: toSipSeconds(r.ringingTimeoutMs),
        // The request outlives the ringing: the answer (200, ACK) still has to come back.
        timeout: toSipSeconds(r.ringingTimeoutMs) + 15,
        ...(r.from === undefined ? {} : { fromNumber: r.from }),
      });
    },
    report: async (room, outcome) => {
      const [info] = await rooms.listRooms([room]);
      await rooms.updateRoomMetadata(room, withOutcome(info?.metadata ?? '', outcome));
    },
  };
}
