/**
 * The agent's audio paused on the first sign of caller speech, before the VAD has decided.
 *
 * Why: the framework stops the agent one Silero window after the VAD declares speech, and the VAD
 * declares it after two windows above its threshold: three 32 ms windows after the caller's first
 * sound reaches the job, on top of the ~250 ms the audio spends in livekit-sip, the SFU and back
 * (bench/RESULTS.md, "Turn-taking"). Pausing on the first window that looks like speech takes
 * those windows off what the caller hears. The pause is only a pause: if the VAD gives up on the
 * sound before the framework stops the agent (a click, a breath: a window below the onset once the
 * VAD's run of speech windows has broken, or its speech has ended), or the framework has not
 * stopped the agent by `confirmMs`, the agent carries on from where it was; if the framework has
 * stopped it, the framework owns the stop from then on (its own resume after a false
 * interruption, or the end of the turn).
 */
import type { VadWindow } from './observed-vad.js';

/** The head of the session's audio output chain: what the framework pauses and resumes too. */
export interface PausableOutput {
  pause(): void;
  resume(): void;
}

/** What the pause needs of a speech handle (agents' `SpeechHandle`). */
export interface OnsetSpeech {
  readonly allowInterruptions: boolean;
  readonly interrupted: boolean;
  done(): boolean;
}

export interface SpeechOnsetPauseOptions {
  /** A window's speech probability at or above which the agent pauses (0-1). */
  onsetProbability: number;
  /** How long the framework has to stop the agent itself before the agent resumes. Unit: ms. */
  confirmMs: number;
  /** No pause in the agent's first this much speech of the call (a browser's echo). Unit: ms. */
  echoWarmupMs: number;
  /** The output to pause; null while the session has none. */
  output: () => PausableOutput | null;
  /** Told of each pause. */
  onPause?: () => void;
  /** Told how each pause ended: the framework took it over (true), or the agent resumed. */
  onSettled?: (confirmed: boolean) => void;
  now?: () => number;
}

interface Held {
  since: number;
  speech: OnsetSpeech;
  output: PausableOutput;
  timer: ReturnType<typeof setTimeout>;
}

export class SpeechOnsetPause {
  readonly #opts: SpeechOnsetPauseOptions;
  readonly #now: () => number;
  #agentSpeaking = false;
  /** The latest speech the framework created: the one playing while the agent speaks. */
  #speech: OnsetSpeech | undefined;
  #held: Held | undefined;
  /** Re-armed by a window below the onset: one noise that lasts pauses the agent once. */
  #armed = true;
  /** Agent speech so far in the call, for the echo warm-up. Unit: ms. */
  #spokenMs = 0;
  #speakingSince: number | undefined;
  #closed = false;

  constructor(opts: SpeechOnsetPauseOptions) {
    if (!(opts.onsetProbability > 0 && opts.onsetProbability <= 1))
      throw new RangeError(`onsetProbability must be in (0, 1], got ${opts.onsetProbability}`);
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** When the pause now held began (epoch ms), if one is held: paused, waiting for the framework. */
  get heldSince(): number | undefined {
    return this.#held?.since;
  }

  speechCreated(speech: OnsetSpeech): void {
    this.#speech = speech;
  }

  /** The agent's state as the session reports it ('speaking', 'listening', 'thinking', ...). */
  agentState(state: string): void {
    const speaking = state === 'speaking';
    if (speaking === this.#agentSpeaking) return;
    this.#agentSpeaking = speaking;
    if (speaking) {
      this.#speakingSince = this.#now();
      return;
    }
    if (this.#speakingSince !== undefined) this.#spokenMs += this.#now() - this.#speakingSince;
    this.#speakingSince = undefined;
    const held = this.#held;
    if (held === undefined) return;
    this.#release(held);
    // The framework's stop for caller speech pauses the same speech and makes the agent
    // 'listening' (agent_activity.js): the output stays paused, and the framework resumes or ends
    // the speech. Anything else, an interrupted speech or one that played out (to 'thinking' for a
    // tool call, say), the framework does not resume: the output would stay shut.
    if (state === 'listening' && !held.speech.interrupted && !held.speech.done())
      this.#opts.onSettled?.(true);
    else this.#resume(held);
  }

  /** One VAD window, as the session receives it. */
  window(w: VadWindow): void {
    const held = this.#held;
    if (held !== undefined && w.probability < this.#opts.onsetProbability && !w.speaking) {
      // The VAD has given up on the sound: its run of speech windows broke (or its speech ended)
      // without a stop by the framework, which it would need a new run to make.
      if (w.accumulatedSpeechMs === 0) {
        this.#release(held);
        this.#resume(held);
      }
    }
    if (w.probability < this.#opts.onsetProbability) {
      this.#armed = true;
      return;
    }
    if (this.#closed || !this.#armed || this.#held !== undefined || !this.#agentSpeaking) return;
    const speech = this.#speech;
    if (speech === undefined || !speech.allowInterruptions || speech.interrupted || speech.done())
      return;
    if (this.#agentSpokenMs() < this.#opts.echoWarmupMs) return;
    const output = this.#opts.output();
    if (output === null) return;
    this.#armed = false;
    output.pause();
    this.#held = {
      since: this.#now(),
      speech,
      output,
      timer: setTimeout(() => this.#expire(), this.#opts.confirmMs),
    };
    this.#opts.onPause?.();
  }

  close(): void {
    this.#closed = true;
    if (this.#held !== undefined) this.#release(this.#held);
  }

  #expire(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#release(held);
    // Still "speaking" to the framework: it never stopped the agent, so nothing else will
    // resume it.
    this.#resume(held);
  }

  #resume(held: Held): void {
    held.output.resume();
    this.#opts.onSettled?.(false);
  }

  #release(held: Held): void {
    clearTimeout(held.timer);
    this.#held = undefined;
  }

  #agentSpokenMs(): number {
    return (
      this.#spokenMs + (this.#speakingSince === undefined ? 0 : this.#now() - this.#speakingSince)
    );
  }
}
