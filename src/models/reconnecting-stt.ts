import { APIConnectionError, log, stt, type APIConnectOptions } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

/**
 * A streaming speech-to-text that survives its connection. `@livekit/agents-plugin-openai`'s
 * realtime transcription stream ends quietly when its WebSocket closes, and fails for good on
 * any error event: either way the agent would stop hearing the caller while the call goes on.
 * This wrapper turns both into a retryable connection error, so the framework's own retry loop
 * (`connOptions`: attempts and interval) opens a new stream and keeps feeding it the caller's
 * audio; once the attempts are used up the session gets an unrecoverable STT error, which ends
 * the call with an apology (see src/call). Audio sent to a connection that dropped mid-utterance
 * is lost: the caller hears "sorry, I didn't catch that" and says it again.
 */
export class ReconnectingSTT extends stt.STT {
  readonly label: string;

  constructor(readonly inner: stt.STT) {
    super({ ...inner.capabilities, streaming: true });
    this.label = `ReconnectingSTT<${inner.label}>`;
    inner.on('metrics_collected', (metrics) => this.emit('metrics_collected', metrics));
    // The inner stream's failures are this wrapper's to retry; without a listener Node's
    // EventEmitter would throw them.
    inner.on('error', (error) =>
      log().debug(
        { stt: inner.label, err: error.error },
        'speech-to-text stream failed; reconnecting',
      ),
    );
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  protected _recognize(
    frame: AudioFrame | AudioFrame[],
    abortSignal?: AbortSignal,
  ): Promise<stt.SpeechEvent> {
    return this.inner.recognize(frame, abortSignal);
  }

  stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    return new ReconnectingSpeechStream(this, this.inner, options?.connOptions);
  }

  override async close(): Promise<void> {
    await this.inner.close();
  }
}

class ReconnectingSpeechStream extends stt.SpeechStream {
  readonly label: string;

  constructor(
    owner: ReconnectingSTT,
    private readonly inner: stt.STT,
    connOptions?: APIConnectOptions,
  ) {
    // No resampling here: the inner stream converts to its provider's rate itself.
    super(owner, undefined, connOptions);
    this.label = `ReconnectingSpeechStream<${inner.label}>`;
  }

  /** One connection's life; the framework calls it again after a retryable error. */
  protected async run(): Promise<void> {
    const connection = this.inner.stream();
    const stopForwarding = new AbortController();
    const input = { ended: false };
    const forward = async (): Promise<void> => {
      try {
        for (;;) {
          const next = await this.input.next({ signal: stopForwarding.signal });
          if (next.done) break;
          if (next.value === ReconnectingSpeechStream.FLUSH_SENTINEL) connection.flush();
          else connection.pushFrame(next.value);
        }
        input.ended = true;
        connection.endInput();
      } catch (err) {
        // Aborted because the connection ended; the next connection reads on from here.
        if (!stopForwarding.signal.aborted) throw err;
      }
    };
    const forwarding = forward();
    try {
      for await (const event of connection) this.queue.put(event);
    } finally {
      stopForwarding.abort();
      connection.close();
    }
    await forwarding;
    if (!input.ended && !this.abortSignal.aborted)
      throw new APIConnectionError({
        message: 'the speech-to-text stream ended while the caller was still connected',
        options: { retryable: true },
      });
  }
}
