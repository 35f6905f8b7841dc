import { createRequire } from 'node:module';
import { inference, log, type VAD } from '@livekit/agents';

/**
 * The voice activity detector a job process loads when the agent definition names none: Silero,
 * run by the framework's native local inference (`inference.VAD`) rather than by the Silero
 * plugin's onnxruntime.
 *
 * Why: in a profile of a job process holding a call, the plugin's inference was the largest item
 * of its JavaScript thread, because onnxruntime-node runs the model synchronously there. The
 * native detector runs it on libuv's thread pool. `npm run bench:vad` (bench/RESULTS.md, "VAD"):
 * 1.6-2.0 % of a core per caller instead of 4.0-4.7 %, about 30 MiB less memory (the process
 * does not load onnxruntime at all), and its speech starts and ends on the same 32 ms windows.
 *
 * The native binding is an optional, per-platform package. Without it, `inference.VAD` does not
 * fail: it reports silence forever, and the agent would never hear the caller. So the binding is
 * loaded here, in prewarm, and a machine without it gets the plugin instead, with a warning.
 */
export async function loadDefaultVad(
  loadNative: () => void = loadNativeVad,
  loadPlugin: () => Promise<VAD> = loadSileroPlugin,
): Promise<VAD> {
  try {
    loadNative();
  } catch (err) {
    log().warn(
      { err },
      'the native Silero detector (@livekit/local-inference) did not load; using the Silero plugin, which costs more CPU per call. Reinstall with npm ci on this platform to fix',
    );
    return loadPlugin();
  }
  return new inference.VAD();
}

/** Loads the binding and the model; the package throws at import on a platform it lacks. */
function loadNativeVad(): void {
  const native = createRequire(import.meta.url)('@livekit/local-inference') as {
    initVad(): void;
  };
  native.initVad();
}

async function loadSileroPlugin(): Promise<VAD> {
  // Imported only here: the plugin loads onnxruntime into the process as it is imported.
  const silero = await import('@livekit/agents-plugin-silero');
  return silero.VAD.load();
}

/** The two LiveKit Silero detectors; both take a new silence time on a live process. */
const SILENCE_SETTABLE = new Set(['inference.VAD', 'silero.VAD']);

interface SilenceSettable {
  updateOptions(opts: { minSilenceDuration: number }): void;
}

/**
 * Sets how much silence ends the caller's speech, for the call this process serves (one job per
 * process). Returns false for a detector of another kind, which keeps its own setting. Matched by
 * label, not class: `instanceof` on the plugin's class would import it, and onnxruntime with it.
 */
export function setVadSilenceMs(vad: VAD, silenceMs: number): boolean {
  if (!SILENCE_SETTABLE.has(vad.label)) return false;
  (vad as unknown as SilenceSettable).updateOptions({ minSilenceDuration: silenceMs });
  return true;
}
