import { log, VAD, VADEventType, type metrics, type VADStream } from '@livekit/agents';

/** One window of the VAD, as it reports it before acting on it. */
export interface VadWindow {
  /** The window's speech probability (0-1). */
  probability: number;
  /** The VAD had declared speech before this window. */
  speaking: boolean;
  /**
   * Speech the VAD had counted toward its next decision before this window (Silero's
   * `rawAccumulatedSpeech`); 0 once a window below its threshold broke the run. Unit: ms.
   */
  accumulatedSpeechMs: number;
}

/**
 * A session's VAD that also reports every window's speech probability, as the session reads it.
 * The framework acts only on the VAD's speech start and end; the windows in between are what a
 * pause at the first sign of speech needs ({@link SpeechOnsetPause}), and reading them here costs
 * nothing: no second detector runs on the caller's audio.
 *
 * The process's detector stays the one that runs (its silence setting, its native model); this
 * wrapper is given to one call's session and forwards the detector's metrics to it.
 */
export class ObservedVad extends VAD {
  readonly label: string;
  readonly #inner: VAD;
  readonly #onWindow: (window: VadWindow) => void;
  readonly #logger = log();
  readonly #forwardMetrics = (m: metrics.VADMetrics): void => {
    this.emit('metrics_collected', m);
  };

  constructor(inner: VAD, onWindow: (window: VadWindow) => void) {
    super(inner.capabilities);
    this.label = inner.label;
    this.#inner = inner;
    this.#onWindow = onWindow;
    inner.on('metrics_collected', this.#forwardMetrics);
  }

  override get minSilenceDuration(): number | null {
    return this.#inner.minSilenceDuration;
  }

  stream(): VADStream {
    const stream = this.#inner.stream();
    // The session reads the stream through its async iterator, which is the stream itself: each
    // event is seen here in the same turn the session gets it.
    const next = stream.next.bind(stream);
    stream.next = async () => {
      const result = await next();
      if (!result.done && result.value.type === VADEventType.INFERENCE_DONE) {
        const ev = result.value;
        // A failing observer must not take the session's VAD, and with it the call's hearing.
        try {
          this.#onWindow({
            probability: ev.probability,
            speaking: ev.speaking,
            accumulatedSpeechMs: ev.rawAccumulatedSpeech,
          });
        } catch (err) {
          this.#logger.error({ err }, 'a VAD window observer failed');
        }
      }
      return result;
    };
    return stream;
  }

  /** Detaches from the process's detector, which outlives the call and is not closed here. */
  override close(): Promise<void> {
    this.#inner.off('metrics_collected', this.#forwardMetrics);
    return Promise.resolve();
  }
}
