import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import {
  LOCAL_API_KEY,
  LOCAL_API_SECRET,
  localStackLayout,
  type NetworkMode,
} from '../../src/config/index.js';

/** The running local stack, as the tests (which run inside its network) see it. */
export const layout = localStackLayout((process.env.SWITCHBOARD_NETWORK ?? 'netns') as NetworkMode);
export const httpUrl = `http://${layout.serviceIp}:${layout.ports.livekitHttp}`;
export const AGENT_NAME = 'switchboard';
/** The worker's health server port in tests (GET /worker reports active_jobs). */
export const AGENT_HTTP_PORT = 8081;

export const sipClient = () => new SipClient(httpUrl, LOCAL_API_KEY, LOCAL_API_SECRET);
export const roomClient = () => new RoomServiceClient(httpUrl, LOCAL_API_KEY, LOCAL_API_SECRET);

/** Running jobs of the tests' shared worker. */
export async function agentActiveJobs(): Promise<number> {
  const res = await fetch(`http://${layout.serviceIp}:${AGENT_HTTP_PORT}/worker`);
  return ((await res.json()) as { active_jobs: number }).active_jobs;
}

/** Polls `probe` until it returns true; fails with `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * No room on the server has `roomNameContains` in its name, within `timeoutMs`. Polled, because
 * livekit-server's DeleteRoom closes the room (and livekit-sip answers a ringing caller 486 at that
 * moment) before it removes the room from its store.
 */
export async function expectRoomDeleted(
  roomNameContains: string,
  timeoutMs = 20_000,
): Promise<void> {
  await eventually(
    `no room named like ${roomNameContains}`,
    async () => (await roomClient().listRooms()).every((r) => !r.name.includes(roomNameContains)),
    timeoutMs,
  );
}

/** After a call: its room is gone from the server and the shared worker runs no job. */
export async function expectCallCleanedUp(roomNameContains: string): Promise<void> {
  await expectRoomDeleted(roomNameContains);
  await eventually('the agent job to end', async () => (await agentActiveJobs()) === 0);
}
