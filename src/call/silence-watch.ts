import { SilencePolicy } from '../conversation/silence-policy.js';
import type { Timers } from '../dtmf/index.js';

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface SilenceWatchInput {
  /** Quiet (caller and agent) before a prompt, and again before the hang-up. Unit: ms. */
  silenceTimeoutMs: number;
  /** Plays the "are you still there?" prompt; resolves once it has played. */
  prompt: () => Promise<void>;
  /** Says goodbye and ends the call. */
  hangUp: () => Promise<void>;
  /** True while silence is expected (on hold during a transfer) or the call is over. */
  paused: () => boolean;
  /** Whether the caller is still away (the framework's user state) once the prompt has played. */
  callerAway: () => boolean;
  onError: (err: unknown) => void;
  timers?: Timers;
}

/**
 * What the agent does when the line goes quiet: the framework reports "away" once per quiet
 * spell; the first gets a prompt, and the second spell, timed here from the end of the prompt
 * and cancelled as soon as the caller speaks, ends the call.
 */
export class SilenceWatch {
  private readonly policy = new SilencePolicy();
  private timer: unknown;
  private readonly timers: Timers;
  private closed = false;

  constructor(private readonly input: SilenceWatchInput) {
    this.timers = input.timers ?? realTimers;
  }

  /** The framework's user state became "away". */
  onAway(): void {
    if (this.closed || this.input.paused()) return;
    if (this.policy.onSilence() === 'hang_up') {
      this.input.hangUp().catch(this.input.onError);
      return;
    }
    this.input
      .prompt()
      .then(() => {
        if (!this.closed && this.input.callerAway())
          this.timer = this.timers.setTimeout(() => this.onAway(), this.input.silenceTimeoutMs);
      })
      .catch(this.input.onError);
  }

  onCallerSpoke(): void {
    this.policy.onCallerSpoke();
    this.cancel();
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  private cancel(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
