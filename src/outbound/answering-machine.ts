import { voice } from '@livekit/agents';
import { AudioStream, type RemoteTrack, type Room } from '@livekit/rtc-node';
import { subscribedAudio } from '../livekit/subscribed-audio.js';
import { BeepDetector } from './beep-detector.js';
import { CALLEE_IDENTITY } from './callee.js';
import type { OutboundOptions } from './options.js';

/** What answering-machine detection decided, for the call record and the next step. */
export interface MachineDecision {
  /** voice.AMD's category: human, machine-vm, machine-ivr, machine-unavailable, uncertain. */
  category: string;
  /**
   * Why: `llm` (the model classified the transcript), `short_greeting` (a short utterance and
   * silence: a person), `no_speech_timeout`, `detection_timeout`... voice.AMD reports no
   * probability, so this is the closest there is to a confidence.
   */
  reason: string;
  isMachine: boolean;
  /** The callee's speech heard before the decision. Unit: ms. */
  speechDurationMs: number;
  /** The callee's end of speech -> the decision. Unit: ms. */
  delayMs: number;
  /** The answer -> the decision. Unit: ms. */
  decidedAfterAnswerMs: number;
}

/**
 * Runs the framework's answering-machine detection (`voice.AMD`) on the callee: the session's own
 * LLM classifies the greeting's transcript, a short greeting followed by silence is a person.
 * While it runs the agent does not reply; on a machine it interrupts anything queued.
 */
export async function detectAnsweringMachine(
  session: voice.AgentSession,
  options: OutboundOptions['answeringMachine'],
  answeredAt: number,
): Promise<MachineDecision> {
  const amd = new voice.AMD(session, {
    llm: null,
    stt: null,
    interruptOnMachine: true,
    noSpeechTimeoutMs: options.noSpeechTimeoutMs,
    detectionTimeoutMs: options.detectionTimeoutMs,
    humanSilenceThresholdMs: options.humanSilenceMs,
    machineSilenceThresholdMs: options.machineSilenceMs,
    participantIdentity: CALLEE_IDENTITY,
    suppressCompatibilityWarning: true,
  });
  try {
    const ev = await amd.execute();
    return {
      category: ev.category,
      reason: ev.reason,
      isMachine: ev.isMachine,
      speechDurationMs: ev.speechDurationMs,
      delayMs: ev.delayMs,
      decidedAfterAnswerMs: Math.round(performance.now() - answeredAt),
    };
  } finally {
    await amd.aclose();
  }
}

/** The detector's input rate: beeps are between 300 and 2500 Hz. Unit: Hz. */
const BEEP_SAMPLE_RATE = 16_000;
/** A beep counts as over once no tone was heard for this long. Unit: ms. */
const BEEP_OVER_MS = 100;
const POLL_MS = 20;
/** The longest a beep may sound past the wait's own limit. Unit: ms. */
const BEEP_LONGEST_MS = 5_000;

/**
 * Listens to the callee's audio from the answer on for a voicemail beep, so the message starts
 * after it, whether the beep came before detection settled or after.
 */
export class BeepListener {
  private readonly detector = new BeepDetector(BEEP_SAMPLE_RATE);
  private lastToneAt?: number;
  private reading?: Promise<void>;

  constructor(
    private readonly room: Room,
    private readonly signal: AbortSignal,
  ) {}

  start(): void {
    subscribedAudio(this.room, CALLEE_IDENTITY, this.signal).then(
      (track) => this.listen(track),
      () => undefined,
    );
  }

  private listen(track: RemoteTrack): void {
    if (this.reading !== undefined || this.signal.aborted) return;
    const stream = new AudioStream(track, { sampleRate: BEEP_SAMPLE_RATE, numChannels: 1 });
    const reader = stream.getReader();
    this.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), {
      once: true,
    });
    this.reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.detector.push(value.data);
        if (this.detector.sounding) this.lastToneAt = performance.now();
      }
    })().catch(() => undefined);
  }

  /**
   * Resolves `beep` once a beep has been heard and is over, or `timeout` when none came within
   * `timeoutMs` (some mailboxes never beep), or `cancelled` when the call ended.
   */
  async waitForBeepEnd(timeoutMs: number): Promise<'beep' | 'timeout' | 'cancelled'> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.signal.aborted) return 'cancelled';
      const heard = this.detector.beeps.length > 0;
      if (
        heard &&
        !this.detector.sounding &&
        this.lastToneAt !== undefined &&
        performance.now() - this.lastToneAt >= BEEP_OVER_MS
      )
        return 'beep';
      if (!heard && performance.now() >= deadline) return 'timeout';
      // A tone that never stops (a fax, a stuck line) does not hold the message for ever.
      if (performance.now() >= deadline + BEEP_LONGEST_MS) return 'beep';
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async close(): Promise<void> {
    await this.reading;
  }
}
