import type { llm, stt, tts } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import type { ModelProvider } from '../config/index.js';
import { ReconnectingSTT } from './reconnecting-stt.js';

/** The models of one call. Any agents-js plugin's instances: OpenAI, Deepgram, Cartesia, a local server. */
export interface SpeechModels {
  /** Without one the agent cannot hear: it greets, then only the call's fixed lines play. */
  stt?: stt.STT;
  llm?: llm.LLM;
  tts: tts.TTS;
  /** One line for the first log line of the worker: what the caller will be talking to. */
  description?: string;
}

/**
 * The agent's models, all through `@livekit/agents-plugin-openai`: OpenAI itself, any
 * OpenAI-compatible server (OPENAI_BASE_URL: Ollama, vLLM), or the stack's offline speech server.
 * Keys are passed explicitly: the plugin's own `process.env` defaults are never relied on.
 */
/**
 * The server's end-of-speech wait before it finalizes a transcript segment (OpenAI's
 * `server_vad`). Shorter than the plugin's 350 ms: the agent's own VAD and turn detector decide
 * the turn, this only decides how soon the words arrive. Unit: ms.
 */
const STT_SEGMENT_SILENCE_MS = 300;

/**
 * Realtime transcription over a WebSocket, so words arrive while the caller speaks (OpenAI's
 * realtime transcription; the offline server speaks the same protocol), kept connected by
 * ReconnectingSTT.
 */
function streamingStt(opts: { apiKey: string; baseURL?: string; model: string }): ReconnectingSTT {
  return new ReconnectingSTT(
    new openai.STT({
      ...opts,
      useRealtime: true,
      turnDetection: {
        type: 'server_vad',
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: STT_SEGMENT_SILENCE_MS,
      },
    }),
  );
}

export function createSpeechModels(
  provider: ModelProvider,
): SpeechModels & { description: string } {
  switch (provider.kind) {
    case 'openai': {
      const common = {
        apiKey: provider.apiKey,
        ...(provider.baseUrl === undefined ? {} : { baseURL: provider.baseUrl }),
      };
      return {
        stt: streamingStt({ ...common, model: provider.sttModel }),
        llm: new openai.LLM({ ...common, model: provider.llmModel }),
        // OpenAI adds voices and compatible servers name their own: the name is passed through.
        tts: new openai.TTS({
          ...common,
          model: provider.ttsModel,
          voice: provider.ttsVoice as openai.TTSVoices,
        }),
        description: `models: OpenAI-compatible API at ${provider.baseUrl ?? 'api.openai.com'} (llm ${provider.llmModel}, stt ${provider.sttModel}, tts ${provider.ttsModel})`,
      };
    }
    case 'offline': {
      // The offline speech server ignores the key; the plugin insists on one.
      const common = { apiKey: 'offline', baseURL: provider.baseUrl };
      return {
        stt: streamingStt({ ...common, model: 'pocketsphinx-grammar' }),
        llm: new openai.LLM({ ...common, model: 'scripted-dialog' }),
        tts: new openai.TTS({ ...common, model: 'espeak-ng', voice: 'alloy' }),
        description: `OFFLINE DEMO, no AI model: recognition by pocketsphinx (a grammar of the demo phrases), replies by a scripted dialog, speech by espeak-ng, all from the offline speech server at ${provider.baseUrl}. Set OPENAI_API_KEY to talk to OpenAI.`,
      };
    }
  }
}
