/**
 * The benchmarks' peer: a stock agents-js voice agent written the way LiveKit's Node starter
 * template writes one (Silero VAD loaded in prewarm, an AgentSession with the framework's default
 * turn handling, `session.start`, a greeting by `generateReply`), with the same models as this
 * package's agents (the OpenAI plugin against the same server). None of this package's call
 * handling: no caller model, record, silence policy or tools. Registered as `baseline` (explicit
 * dispatch, so it joins only the benchmark's own line).
 *
 *   npm run build && node dist/agents/baseline.js start
 */
import { fileURLToPath } from 'node:url';
import {
  cli,
  defineAgent,
  ServerOptions,
  voice,
  type JobContext,
  type JobProcess,
} from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { loadConfig } from '../src/config/index.js';
import { createSpeechModels } from '../src/models/index.js';

export default defineAgent({
  prewarm: async (proc: JobProcess) => {
    proc.userData.vad = await silero.VAD.load();
  },
  entry: async (ctx: JobContext) => {
    const models = createSpeechModels(loadConfig().models);
    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad as silero.VAD,
      tts: models.tts,
      ...(models.stt === undefined ? {} : { stt: models.stt }),
      ...(models.llm === undefined ? {} : { llm: models.llm }),
    });
    await session.start({
      agent: new voice.Agent({ instructions: 'You are a helpful voice AI assistant.' }),
      room: ctx.room,
    });
    await ctx.connect();
    session.generateReply({ instructions: 'Greet the user and offer your assistance.' });
  },
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = loadConfig();
  cli.runApp(
    new ServerOptions({
      agent: fileURLToPath(import.meta.url),
      agentName: 'baseline',
      wsURL: config.livekit.url,
      apiKey: config.livekit.apiKey,
      apiSecret: config.livekit.apiSecret,
      ...(config.agentHttp.port === undefined ? {} : { port: config.agentHttp.port }),
      host: config.agentHttp.host,
    }),
  );
}
