import type { VAD, voice } from '@livekit/agents';
import type { AudioFrame, Room } from '@livekit/rtc-node';
import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import type { Caller } from '../caller/index.js';
import type { SpeechModels } from '../models/index.js';
import { AudioBridge } from './audio-bridge.js';
import { referCaller } from './cold-transfer.js';
import { ConsultCall, HUMAN_IDENTITY } from './consult.js';
import { CallerHold } from './hold.js';
import type { WarmTransferPorts } from './ports.js';

export interface LiveKitAccess {
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface LiveKitPortsInput {
  livekit: LiveKitAccess;
  /** Fresh model instances for the consult leg. */
  consultModels: SpeechModels;
  vad: VAD | null;
  session: voice.AgentSession;
  callerRoom: Room;
  caller: Caller;
  holdMusic: Promise<readonly AudioFrame[]>;
}

/**
 * Servers known not to implement MoveParticipant (open-source livekit-server answers "not
 * implemented"): asked once per process, then the bridge is used straight away.
 */
const moveUnsupported = new Set<string>();

/** A warm transfer's ports on a LiveKit server: the consult room is `<caller's room>-consult`. */
export function liveKitTransferPorts(input: LiveKitPortsInput): WarmTransferPorts {
  const { url, apiKey, apiSecret } = input.livekit;
  const callerRoomName = input.callerRoom.name ?? '';
  const rooms = new RoomServiceClient(url, apiKey, apiSecret);
  const sip = new SipClient(url, apiKey, apiSecret);
  const consult = new ConsultCall(`${callerRoomName}-consult`, {
    livekit: input.livekit,
    sip,
    rooms,
    models: input.consultModels,
    vad: input.vad,
  });
  return {
    hold: new CallerHold(input.session, input.callerRoom, input.holdMusic),
    consult,
    refer: (target, timeoutMs) =>
      referCaller({ sip, room: callerRoomName, caller: input.caller, target, timeoutMs }),
    moveHuman: async () => {
      if (moveUnsupported.has(url)) return 'unsupported';
      try {
        await rooms.moveParticipant(consult.roomName, HUMAN_IDENTITY, callerRoomName);
        return 'moved';
      } catch (err) {
        const text = `${(err as Error).message} ${String((err as { code?: string }).code)}`;
        if (!/not implemented|unimplemented/i.test(text)) return 'failed';
        moveUnsupported.add(url);
        return 'unsupported';
      }
    },
    bridge: async () => {
      const bridge = new AudioBridge();
      // Both directions settle before a failed bridge is closed, so that close undoes
      // everything either of them set up.
      const directions = await Promise.allSettled([
        bridge.relay(input.callerRoom, input.caller.identity, consult.room, 'caller-audio'),
        bridge.relay(consult.room, HUMAN_IDENTITY, input.callerRoom, 'human-audio'),
      ]);
      if (directions.some((d) => d.status === 'rejected')) {
        await bridge.close();
        return undefined;
      }
      return {
        method: 'bridge',
        consultRoomName: consult.roomName,
        humanRoom: consult.room,
        bridge,
      };
    },
  };
}
