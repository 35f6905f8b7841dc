/**
 * Whether a model error is a request the agent cancelled itself: an interruption (barge-in, a
 * machine detected) aborts the reply's LLM or TTS request under way. The OpenAI plugin lets the
 * SDK's `APIUserAbortError` through, and agents 1.9.0 reports anything that is not its own
 * APIError as a non-recoverable `tts_error`/`llm_error`; taken at its word, the call would end
 * with the apology for a model failure that never happened.
 */
export function isCancelledRequest(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (typeof e !== 'object') return false;
    const { name, message, cause } = e as { name?: unknown; message?: unknown; cause?: unknown };
    const kind = (e as { constructor?: { name?: unknown } }).constructor?.name;
    if (name === 'AbortError' || kind === 'APIUserAbortError' || kind === 'AbortError') return true;
    if (
      typeof message === 'string' &&
      /^(Request was aborted|This operation was aborted)\.?$/.test(message)
    )
      return true;
    // The framework's error event wraps the model's error in `error`.
    e = (e as { error?: unknown }).error ?? cause;
  }
  return false;
}
