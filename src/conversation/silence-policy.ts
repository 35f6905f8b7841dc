/**
 * What the agent does when the line goes quiet: the first silence gets a prompt, a second one in a
 * row ends the call. Any speech from the caller starts over. Pure state: the agent feeds it the
 * session's user-state events and acts on the decisions.
 */
export type SilenceDecision = 'prompt' | 'hang_up' | 'none';

export class SilencePolicy {
  private silences = 0;

  constructor(private readonly promptsBeforeHangUp = 1) {}

  /** The caller and the agent have both been quiet for the silence timeout. */
  onSilence(): SilenceDecision {
    this.silences++;
    return this.silences > this.promptsBeforeHangUp ? 'hang_up' : 'prompt';
  }

  onCallerSpoke(): void {
    this.silences = 0;
  }
}

/** How long after speech ends a transcript may take before the agent apologises. Unit: ms. */
export const TRANSCRIPTION_TIMEOUT_MS = 3_000;

/** The agents framework takes the silence timeout in seconds; this package speaks milliseconds. */
export function userAwayTimeoutSeconds(silenceTimeoutMs: number): number {
  return silenceTimeoutMs / 1000;
}
