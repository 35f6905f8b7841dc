import { createSocket, type Socket } from 'node:dgram';
import { decodeALaw, decodeMuLaw, g711Rms } from './g711.js';

/**
 * An RTP sink standing in for the phone's ear: it receives what livekit-sip sends to the SDP
 * address the SIP peer advertised, decodes G.711 and measures energy per packet.
 */
export interface RtpMeterReport {
  packets: number;
  audioPackets: number;
  /** RFC 4733 telephone-event packets (PT 101). */
  dtmfPackets: number;
  payloadTypes: number[];
  /** RMS over all G.711 audio, in 16-bit linear units. */
  rms: number;
  /** Packets whose RMS is above the speech threshold. */
  loudPackets: number;
  /** Time of the first loud packet (performance.now() clock), if any. */
  firstLoudAt?: number;
  /** Time of the first packet of any kind: the line's media started (performance.now() clock). */
  firstPacketAt?: number;
}

/** -40 dBFS: quieter than any speech, louder than the comfort noise of an idle line. */
export const SPEECH_RMS_THRESHOLD = 328;

export class RtpMeter {
  private socket?: Socket;
  private packets = 0;
  private audioPackets = 0;
  private dtmfPackets = 0;
  private readonly payloadTypes = new Set<number>();
  private sumSquares = 0;
  private samples = 0;
  private loudPackets = 0;
  private firstLoudAt?: number;
  private firstPacketAt?: number;
  private readonly loudTimes: number[] = [];
  private readonly toneTimes: number[] = [];
  /** Arrival of every packet (performance.now() clock), for gaps in the stream. */
  private readonly packetTimes: number[] = [];

  /** With `toneHz`, packets dominated by that frequency (a test peer's tone) are timed too. */
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly toneHz?: number,
  ) {}

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg) => this.onPacket(msg));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => resolve());
    });
  }

  private onPacket(msg: Buffer): void {
    if (msg.length < 12 || msg[0] === undefined || msg[1] === undefined) return;
    const csrcCount = msg[0] & 0x0f;
    const hasExtension = (msg[0] & 0x10) !== 0;
    const payloadType = msg[1] & 0x7f;
    let offset = 12 + 4 * csrcCount;
    if (hasExtension && msg.length >= offset + 4) offset += 4 + 4 * msg.readUInt16BE(offset + 2);
    this.packets++;
    this.packetTimes.push(performance.now());
    this.firstPacketAt ??= performance.now();
    this.payloadTypes.add(payloadType);
    if (payloadType === 101) {
      this.dtmfPackets++;
      return;
    }
    if (payloadType !== 0 && payloadType !== 8) return;
    const payload = msg.subarray(offset);
    const rms = g711Rms(payload, payloadType);
    this.audioPackets++;
    this.sumSquares += rms * rms * payload.length;
    this.samples += payload.length;
    if (rms > SPEECH_RMS_THRESHOLD) {
      this.loudPackets++;
      this.firstLoudAt ??= performance.now();
      this.loudTimes.push(performance.now());
      if (this.toneHz !== undefined && toneShare(payload, payloadType, this.toneHz) > 0.5)
        this.toneTimes.push(performance.now());
    }
  }

  report(): RtpMeterReport {
    return {
      packets: this.packets,
      audioPackets: this.audioPackets,
      dtmfPackets: this.dtmfPackets,
      payloadTypes: [...this.payloadTypes].sort((a, b) => a - b),
      rms: this.samples === 0 ? 0 : Math.sqrt(this.sumSquares / this.samples),
      loudPackets: this.loudPackets,
      ...(this.firstLoudAt === undefined ? {} : { firstLoudAt: this.firstLoudAt }),
      ...(this.firstPacketAt === undefined ? {} : { firstPacketAt: this.firstPacketAt }),
    };
  }

  /** Arrival times of the loud packets (performance.now() clock). */
  loudTimestamps(): readonly number[] {
    return this.loudTimes;
  }

  /** Loud packets that arrived after `since` (performance.now() clock). */
  loudPacketsAfter(since: number): number {
    return this.loudTimes.filter((t) => t > since).length;
  }

  /**
   * The longest time without a packet between `from` and `to` (performance.now() clock), counting
   * the edges of the window: a stream that stopped shows as a gap up to `to`.
   */
  longestGapMs(from: number, to: number): number {
    let last = from;
    let longest = 0;
    for (const t of this.packetTimes) {
      if (t < from) continue;
      if (t > to) break;
      longest = Math.max(longest, t - last);
      last = t;
    }
    return Math.max(longest, to - last);
  }

  /** Arrival time of the first packet dominated by `toneHz` after `since`, if any. */
  firstToneAfter(since: number): number | undefined {
    return this.toneTimes.find((t) => t > since);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** Share of a packet's energy at `hz` (Goertzel), 0..1: near 1 for a pure tone, low for music or speech. */
function toneShare(payload: Uint8Array, payloadType: 0 | 8, hz: number): number {
  const decode = payloadType === 0 ? decodeMuLaw : decodeALaw;
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const byte of payload) {
    const x = decode(byte);
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // A pure tone over N samples has Goertzel power N/2 times its energy.
  return energy === 0 ? 0 : power / ((energy * payload.length) / 2);
}
