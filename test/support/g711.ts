/** ITU-T G.711 decoders (µ-law PT 0, A-law PT 8) to 16-bit linear PCM. */
export function decodeMuLaw(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign !== 0 && magnitude !== 0 ? -magnitude : magnitude;
}

export function decodeALaw(byte: number): number {
  const a = byte ^ 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude =
    exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = Math.min(magnitude, 32767);
  return sign !== 0 ? magnitude : -magnitude;
}

/** Root mean square of G.711 payload bytes, in 16-bit linear units (full scale 32767). */
export function g711Rms(payload: Uint8Array, payloadType: 0 | 8): number {
  if (payload.length === 0) return 0;
  const decode = payloadType === 0 ? decodeMuLaw : decodeALaw;
  let sum = 0;
  for (const b of payload) {
    const s = decode(b);
    sum += s * s;
  }
  return Math.sqrt(sum / payload.length);
}
