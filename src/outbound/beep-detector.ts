/**
 * Finds a voicemail beep in the callee's audio: a steady tone, which speech never is. Each 20 ms
 * block is scored by the share of its energy at its strongest frequency between 300 and 2500 Hz
 * (Goertzel, 25 Hz steps): about 1 for a sine, well under half for speech, whose energy is spread
 * over harmonics and formants. A beep is such a block run at one frequency for `minBeepMs`.
 * Not AI, and not a DTMF detector: DTMF is two tones and arrives as RFC 4733 events anyway.
 */
const BLOCK_MS = 20;
const LOW_HZ = 300;
const HIGH_HZ = 2_500;
const STEP_HZ = 25;
/** A block's share of energy at one frequency above which it is tonal. A sine scores ~0.9-1. */
const TONAL_SHARE = 0.6;
/** Quieter than -40 dBFS (RMS, 16-bit) is line noise, not a beep. */
const MIN_RMS = 328;
/** Blocks of one beep may differ by a step or two as the tone drifts between bins. Unit: Hz. */
const SAME_TONE_HZ = 60;

export interface Beep {
  /** When the beep started and ended, in ms of audio since the detector started. */
  startMs: number;
  endMs: number;
  frequencyHz: number;
}

export class BeepDetector {
  private readonly blockSize: number;
  private readonly coefficients: { hz: number; coeff: number }[] = [];
  private readonly block: Float64Array;
  private filled = 0;
  private blocks = 0;
  private run?: { startBlock: number; hz: number; length: number };
  private readonly found: Beep[] = [];

  constructor(
    private readonly sampleRate: number,
    private readonly minBeepMs = 160,
  ) {
    this.blockSize = Math.round((sampleRate * BLOCK_MS) / 1000);
    this.block = new Float64Array(this.blockSize);
    for (let hz = LOW_HZ; hz <= HIGH_HZ && hz < sampleRate / 2; hz += STEP_HZ)
      this.coefficients.push({ hz, coeff: 2 * Math.cos((2 * Math.PI * hz) / sampleRate) });
  }

  /** Feeds mono 16-bit samples; returns a beep the moment it has lasted `minBeepMs`, once. */
  push(samples: Int16Array): Beep | undefined {
    let detected: Beep | undefined;
    for (const sample of samples) {
      this.block[this.filled++] = sample;
      if (this.filled < this.blockSize) continue;
      this.filled = 0;
      detected = this.scoreBlock() ?? detected;
      this.blocks++;
    }
    return detected;
  }

  /** A beep is sounding now: the last block was part of a reported beep. */
  get sounding(): boolean {
    const last = this.found.at(-1);
    return this.run !== undefined && last?.startMs === this.run.startBlock * BLOCK_MS;
  }

  /** Beeps found so far (complete or still sounding). */
  get beeps(): readonly Beep[] {
    return this.found;
  }

  private scoreBlock(): Beep | undefined {
    const n = this.blockSize;
    let energy = 0;
    for (const x of this.block) energy += x * x;
    const rms = Math.sqrt(energy / n);
    let best = { hz: 0, share: 0 };
    if (rms >= MIN_RMS) {
      for (const { hz, coeff } of this.coefficients) {
        let s1 = 0;
        let s2 = 0;
        for (const x of this.block) {
          const s0 = x + coeff * s1 - s2;
          s2 = s1;
          s1 = s0;
        }
        const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        // |X|^2 of a sine of amplitude A is (nA/2)^2 and its energy nA^2/2: the share is 1.
        const share = (2 * power) / (n * energy);
        if (share > best.share) best = { hz, share };
      }
    }
    if (best.share < TONAL_SHARE) {
      this.run = undefined;
      return undefined;
    }
    if (this.run === undefined || Math.abs(this.run.hz - best.hz) > SAME_TONE_HZ)
      this.run = { startBlock: this.blocks, hz: best.hz, length: 0 };
    this.run.length++;
    const startMs = this.run.startBlock * BLOCK_MS;
    const endMs = (this.blocks + 1) * BLOCK_MS;
    const last = this.found.at(-1);
    if (last !== undefined && last.startMs === startMs) {
      last.endMs = endMs;
      return undefined;
    }
    if (this.run.length * BLOCK_MS < this.minBeepMs) return undefined;
    const beep = { startMs, endMs, frequencyHz: this.run.hz };
    this.found.push(beep);
    return beep;
  }
}
