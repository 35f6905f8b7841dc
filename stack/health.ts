import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

/** Readiness probes for the stack's services. Each resolves true once, never throws. */
export async function httpOk(url: string, expectBody?: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) return false;
    return expectBody === undefined || (await res.text()).trim() === expectBody;
  } catch {
    return false;
  }
}

/** Sends SIP OPTIONS over UDP and waits for a 200: livekit-sip answers it once it is serving. */
export async function sipOptionsOk(host: string, port: number, fromIp: string): Promise<boolean> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, fromIp, () => resolve());
    });
    const localPort = socket.address().port;
    const id = randomBytes(6).toString('hex');
    const msg = [
      `OPTIONS sip:${host}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${fromIp}:${localPort};branch=z9hG4bK${id}`,
      'Max-Forwards: 70',
      `From: <sip:health@${fromIp}>;tag=${id}`,
      `To: <sip:${host}:${port}>`,
      `Call-ID: ${id}@switchboard-health`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const reply = new Promise<string>((resolve) =>
      socket.once('message', (m) => resolve(m.toString())),
    );
    socket.send(msg, port, host);
    const answer = await Promise.race([reply, sleep(1_000).then(() => '')]);
    return answer.startsWith('SIP/2.0 200');
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

export async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await sleep(200);
  }
  return false;
}
