/**
 * The sweep for calls nobody took, against the real livekit-server: a room with a caller and a
 * dispatch no worker took (its agent name is served by no worker here, so every dispatch stays
 * without a job), swept by two workers at once. Whether they look before either dispatches
 * (both dispatch, the later deletes its own) or one after the other (the second finds the
 * first's dispatch young), one dispatch is added; the dispatches are read as livekit-server
 * gives them (ids, creation times in ns).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Room } from '@livekit/rtc-node';
import { AccessToken, AgentDispatchClient } from 'livekit-server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_API_KEY, LOCAL_API_SECRET } from '../../src/config/index.js';
import {
  livekitStrandedCallPort,
  redispatchStrandedCalls,
  STRANDED_MIN_AGE_MS,
} from '../../src/worker/stranded-calls.js';
import { httpUrl, layout, roomClient } from '../support/stack-env.js';

const livekit = { url: httpUrl, apiKey: LOCAL_API_KEY, apiSecret: LOCAL_API_SECRET };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('stranded calls on livekit-server', () => {
  it('two workers sweeping one stranded call together add one dispatch', async () => {
    const agentName = `e2e-stranded-${process.pid}`;
    const roomName = `e2e-stranded-room-${process.pid}-${Date.now()}`;
    const dispatches = new AgentDispatchClient(httpUrl, LOCAL_API_KEY, LOCAL_API_SECRET);
    await roomClient().createRoom({ name: roomName });
    cleanups.push(() => roomClient().deleteRoom(roomName));
    const original = await dispatches.createDispatch(roomName, agentName, { metadata: '{"a":1}' });
    const token = new AccessToken(LOCAL_API_KEY, LOCAL_API_SECRET, { identity: 'caller' });
    token.addGrant({ roomJoin: true, room: roomName });
    const caller = new Room();
    await caller.connect(
      `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`,
      await token.toJwt(),
    );
    cleanups.push(() => caller.disconnect());

    const port = livekitStrandedCallPort(livekit);
    const [listed] = await port.dispatches(roomName, agentName);
    expect(listed).toMatchObject({ id: original.id, metadata: '{"a":1}', jobs: 0 });
    // livekit-server stamps dispatches in ns: read as ms, the stamp is this moment's.
    expect(Math.abs((listed?.createdAtMs ?? 0) - Date.now())).toBeLessThan(10_000);

    // Stranded: old enough that its offer is settled.
    await sleep(STRANDED_MIN_AGE_MS + 500);
    const sweep = () => redispatchStrandedCalls({ port, agentName, nowMs: Date.now() });
    const swept = await Promise.all([sweep(), sweep()]);
    expect(swept.flat()).toEqual([roomName]);
    const after = (await dispatches.listDispatch(roomName)).filter(
      (d) => d.agentName === agentName,
    );
    expect(after).toHaveLength(2);
    expect(after.map((d) => d.id)).toContain(original.id);
    expect(after.every((d) => d.metadata === '{"a":1}')).toBe(true);
  }, 60_000);
});
