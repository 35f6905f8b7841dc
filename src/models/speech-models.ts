import type { llm, stt, tts } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import type { ModelProvider } from '../config/index.js';

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
        // Batch transcription after each VAD end-of-speech: the same request shape that
        // OpenAI-compatible servers (vLLM, the offline server) implement.
        stt: new openai.STT({ ...common, model: provider.sttModel, useRealtime: false }),
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
        stt: new openai.STT({ ...common, model: 'pocketsphinx-grammar', useRealtime: false }),
        llm: new openai.LLM({ ...common, model: 'scripted-dialog' }),
        tts: new openai.TTS({ ...common, model: 'espeak-ng', voice: 'alloy' }),
        description: `OFFLINE DEMO, no AI model: recognition by pocketsphinx (a grammar of the demo phrases), replies by a scripted dialog, speech by espeak-ng, all from the offline speech server at ${provider.baseUrl}. Set OPENAI_API_KEY to talk to OpenAI.`,
      };
    }
  }
}
