import { RoomAgentDispatch, RoomConfiguration } from 'livekit-server-sdk';
import type { SippCall } from './sipp.js';
import { AGENT_NAME, layout, sipClient } from './stack-env.js';

/**
 * Test phone lines: an inbound trunk for one number and a dispatch rule that sends its calls to
 * the receptionist, with optional per-call options in the agent metadata. `release` deletes both.
 */
export interface PhoneLine {
  number: string;
  trunkId: string;
  ruleId: string;
  release: () => Promise<void>;
}

/** SIPHeaderOptions.SIP_X_HEADERS in livekit/protocol (not re-exported by livekit-server-sdk). */
const SIP_X_HEADERS = 1;

export async function provisionLine(
  number: string,
  callOptions?: object,
  agentName = AGENT_NAME,
  /** The trunk's headers_to_attributes; with it, no `sip.h.*` attributes are included. */
  headersToAttributes?: Record<string, string>,
): Promise<PhoneLine> {
  const sip = sipClient();
  const trunk = await sip.createSipInboundTrunk(
    `e2e ${number}`,
    [number],
    headersToAttributes === undefined
      ? // X- headers of the INVITE become `sip.h.*` attributes.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- the SDK takes protocol's enum but does not export it
        { includeHeaders: SIP_X_HEADERS }
      : { headersToAttributes },
  );
  const rule = await sip.createSipDispatchRule(
    { type: 'individual', roomPrefix: 'e2e-call-' },
    {
      name: `e2e ${number}`,
      trunkIds: [trunk.sipTrunkId],
      roomConfig: new RoomConfiguration({
        agents: [
          new RoomAgentDispatch({
            agentName,
            metadata: callOptions === undefined ? '' : JSON.stringify(callOptions),
          }),
        ],
      }),
    },
  );
  return {
    number,
    trunkId: trunk.sipTrunkId,
    ruleId: rule.sipDispatchRuleId,
    release: async () => {
      await sip.deleteSipDispatchRule(rule.sipDispatchRuleId);
      await sip.deleteSipTrunk(trunk.sipTrunkId);
    },
  };
}

let nextSlot = 0;

/** A SIPp call with ports no other call in this test process uses. */
export function sippCall(
  called: string,
  caller: string,
  mediaFile: string,
  overrides: Partial<SippCall> = {},
): SippCall {
  const n = nextSlot++;
  return {
    called,
    caller,
    target: { host: layout.serviceIp, port: layout.ports.sip },
    localIp: layout.serviceIp,
    sipPort: 25060 + n,
    mediaPort: 22000 + 2 * n,
    recordPort: 24000 + 2 * n,
    mediaFile,
    answerTimeoutMs: 60_000,
    holdMs: 10_000,
    ...overrides,
  };
}
