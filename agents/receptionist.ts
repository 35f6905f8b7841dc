/**
 * The receptionist: one agent for phone (SIP) and browser callers. It greets the caller, and
 * converses when the model provider can hear and think (OpenAI or an OpenAI-compatible server).
 *
 *   npm run agent dev     development worker against the local stack (or LIVEKIT_URL)
 *   npm run agent start   production worker
 */
import { fileURLToPath } from 'node:url';
import {
  AutoSubscribe,
  beta,
  cli,
  defineAgent,
  log,
  ServerOptions,
  voice,
  type JobContext,
  type JobProcess,
  type VAD,
} from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { RoomEvent, type RemoteParticipant } from '@livekit/rtc-node';
import {
  accountNumberTool,
  callCountLoad,
  CallRecordWriter,
  CallTracker,
  createSpeechModels,
  GOODBYE_AFTER_SILENCE,
  GOODBYE_AT_TIME_LIMIT,
  greetingFor,
  isSwitchboardError,
  LiveCaller,
  loadConfig,
  NOT_UNDERSTOOD_APOLOGY,
  parseCallOptions,
  parseStartArgs,
  playLastWords,
  preflight,
  PrerenderedSpeech,
  RECEPTIONIST_INSTRUCTIONS,
  runProductionWorker,
  sendTonesTool,
  SILENCE_PROMPT,
  SilencePolicy,
  TECHNICAL_TROUBLE_APOLOGY,
  TRANSCRIPTION_TIMEOUT_MS,
  TransferDesk,
  userAwayTimeoutSeconds,
  type Channel,
  type DtmfSource,
} from '../src/index.js';

interface ProcessData {
  vad: VAD;
  /** Greetings rendered by the TTS before any call: no synthesis while the caller waits. */
  greetings: Partial<Record<Channel, PrerenderedSpeech>>;
  /** Rendered while the model server works, for the moment it does not. */
  apology?: PrerenderedSpeech;
}

const PRERENDER_TIMEOUT_MS = 10_000;
/**
 * How long a shutting-down job waits for a transfer to wind up (tell the human the caller left,
 * end the consult leg) before it writes the call record anyway; well inside the framework's 60 s
 * shutdown limit for a job process.
 */
const TRANSFER_SETTLE_LIMIT_MS = 15_000;
/** The agents framework's own default, in this package's unit. */
const DEFAULT_SILENCE_TIMEOUT_MS = 15_000;

export default defineAgent({
  prewarm: async (proc: JobProcess) => {
    // Runs once per job process, before a call arrives: model loading off the call's path.
    const data = proc.userData as Partial<ProcessData>;
    data.vad = await silero.VAD.load();
    data.greetings = {};
    const { tts } = createSpeechModels(loadConfig().models);
    for (const channel of ['phone', 'web'] as const) {
      const text = greetingFor(channel);
      try {
        data.greetings[channel] = await PrerenderedSpeech.render(
          tts,
          text,
          AbortSignal.timeout(PRERENDER_TIMEOUT_MS),
        );
      } catch (err) {
        // The call still gets its greeting, synthesized live.
        log().warn(
          { err, channel },
          'could not prerender the greeting; it will be synthesized per call',
        );
      }
    }
    try {
      data.apology = await PrerenderedSpeech.render(
        tts,
        TECHNICAL_TROUBLE_APOLOGY,
        AbortSignal.timeout(PRERENDER_TIMEOUT_MS),
      );
    } catch (err) {
      log().warn(
        { err },
        'could not prerender the apology; a model failure will end calls without it',
      );
    }
    await tts.close();
  },
  entry: async (ctx: JobContext) => {
    const config = loadConfig();
    const logger = log().child({ jobId: ctx.job.id });
    const callOptions = parseCallOptions(
      ctx.job.agentName === config.agentName ? ctx.job.metadata : undefined,
    );
    if (!callOptions.ok)
      logger.error({ problem: callOptions.error }, 'ignoring invalid dispatch metadata');
    const options = callOptions.ok ? callOptions.options : {};

    await ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    const participant = await ctx.waitForParticipant();
    const snapshot = (p: RemoteParticipant) => ({
      identity: p.identity,
      kind: p.kind,
      attributes: p.attributes,
      ...(p.name === undefined ? {} : { name: p.name }),
    });
    const live = new LiveCaller(snapshot(participant));
    const caller = live.current;
    const callLog = logger.child({ channel: caller.channel });
    const tracker = new CallTracker({
      callId: ctx.job.id,
      room: ctx.room.name ?? '',
      agentName: config.agentName,
      caller,
    });
    const records = new CallRecordWriter(config.callRecordsDir);
    // Filled in below, once the session exists; the record waits for a transfer under way.
    const transfers: { desk?: TransferDesk } = {};
    ctx.addShutdownCallback(async () => {
      // A transfer cut short by the shutdown (the caller hung up, the time limit) records its
      // outcome first; callerGone, aborted by another shutdown callback, makes it end.
      await transfers.desk?.idle(TRANSFER_SETTLE_LIMIT_MS);
      tracker.ended('failed', 'the job shut down before the call ended');
      await records.write(tracker.toRecord());
      callLog.info({ outcome: tracker.toRecord().outcome }, 'call record written');
    });

    ctx.room.on(RoomEvent.ParticipantAttributesChanged, (_changed: Record<string, string>, p) => {
      if (p.identity !== participant.identity) return;
      live.refresh(snapshot(participant));
      tracker.updateCaller(live.current);
    });
    live.onStatusChange((change) =>
      callLog.debug({ from: change.from, to: change.to }, 'call status changed'),
    );
    // Aborted when the caller hangs up or the job ends: whatever runs on the caller's behalf stops.
    const callerGone = new AbortController();
    ctx.addShutdownCallback(() => {
      callerGone.abort();
      return Promise.resolve();
    });
    ctx.room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      if (p.identity !== participant.identity) return;
      tracker.ended('caller_hung_up', 'the caller hung up');
      callerGone.abort();
    });

    const models = createSpeechModels(config.models);
    const silence = new SilencePolicy();
    const session = new voice.AgentSession({
      userAwayTimeout: userAwayTimeoutSeconds(
        options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS,
      ),
      transcriptionTimeout: TRANSCRIPTION_TIMEOUT_MS,
      vad: (ctx.proc.userData as Partial<ProcessData>).vad ?? null,
      tts: models.tts,
      ...(models.stt === undefined ? {} : { stt: models.stt }),
      ...(models.llm === undefined ? {} : { llm: models.llm }),
    });
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
      if (ev.newState === 'speaking') tracker.agentStartedSpeaking();
    });
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
      if (ev.item.type !== 'message') return;
      if (ev.item.role === 'assistant')
        tracker.said('agent', ev.item.textContent ?? '', ev.item.interrupted);
      if (ev.item.role === 'user') tracker.said('caller', ev.item.textContent ?? '');
    });
    session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
      ev.functionCalls.forEach((call, i) => {
        const out = ev.functionCallOutputs[i];
        tracker.toolCalled({
          name: call.name,
          arguments: call.args,
          output: out?.output ?? '',
          isError: out?.isError ?? false,
        });
      });
    });
    session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
      const m = ev.metrics;
      if (m.type === 'stt_metrics') tracker.addUsage({ sttAudioSeconds: m.audioDurationMs / 1000 });
      if (m.type === 'llm_metrics')
        tracker.addUsage({
          llmPromptTokens: m.promptTokens,
          llmCompletionTokens: m.completionTokens,
        });
      if (m.type === 'tts_metrics') tracker.addUsage({ ttsCharacters: m.charactersCount });
      if (m.type === 'eou_metrics' && m.speechId !== undefined) {
        tracker.addTiming(m.speechId, {
          endOfUtteranceDelayMs: m.endOfUtteranceDelayMs,
          transcriptionDelayMs: m.transcriptionDelayMs,
        });
      }
      if (m.type === 'llm_metrics' && m.speechId !== undefined)
        tracker.addTiming(m.speechId, { llmTtftMs: m.ttftMs });
      if (m.type === 'tts_metrics' && m.speechId !== undefined)
        tracker.addTiming(m.speechId, { ttsTtfbMs: m.ttfbMs });
    });
    // The framework reports "away" once per quiet spell; the second spell after the prompt is
    // timed here, from the end of the prompt, and cancelled as soon as the caller speaks.
    const silenceTimeoutMs = options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;
    let silenceTimer: NodeJS.Timeout | undefined;
    const cancelSilenceTimer = () => {
      clearTimeout(silenceTimer);
      silenceTimer = undefined;
    };
    ctx.addShutdownCallback(() => {
      cancelSilenceTimer();
      return Promise.resolve();
    });
    const onSilence = (): void => {
      // On hold during a transfer, silence is expected.
      if (tracker.hasEnded || desk?.busy === true) return;
      if (silence.onSilence() === 'hang_up') {
        endCallAt(GOODBYE_AFTER_SILENCE, 'the caller was silent').catch((err: unknown) => {
          callLog.error({ err }, 'failed to end a silent call');
        });
        return;
      }
      session
        .say(SILENCE_PROMPT)
        .waitForPlayout()
        .then(() => {
          if (session.userState === 'away') silenceTimer = setTimeout(onSilence, silenceTimeoutMs);
        })
        .catch((err: unknown) => callLog.error({ err }, 'silence prompt failed'));
    };
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'speaking') {
        silence.onCallerSpoke();
        cancelSilenceTimer();
      }
      if (ev.newState === 'away') onSilence();
    });
    // Speech that produced no transcript (noise, a word outside what the recognizer knows): say
    // so, instead of leaving the caller in silence.
    session.on(voice.AgentSessionEventTypes.UserTranscriptionTimeout, () => {
      if (!tracker.hasEnded) session.say(NOT_UNDERSTOOD_APOLOGY);
    });
    // A model server that fails for good (STT, LLM or TTS): apologise with audio rendered
    // before the call, record why, hang up. The session may already be closing.
    session.on(voice.AgentSessionEventTypes.Error, (ev) => {
      const recoverable = (ev.error as { recoverable?: boolean }).recoverable === true;
      callLog.error({ err: ev.error, recoverable }, 'agent session error');
      if (recoverable || tracker.hasEnded) return;
      tracker.ended('failed', `the model server failed (${ev.error.type})`);
      const apology = (ctx.proc.userData as Partial<ProcessData>).apology;
      (async () => {
        await session.close();
        if (apology !== undefined) {
          await playLastWords(ctx.room, apology);
          tracker.said('agent', apology.text);
        }
        await ctx.deleteRoom();
        ctx.shutdown('model server failure');
      })().catch((err: unknown) =>
        callLog.error({ err }, 'failed to end the call after a model failure'),
      );
    });

    // The framework's end_call tool: the agent says goodbye, then the room is deleted, which
    // hangs up the SIP leg (BYE) or disconnects the browser.
    const endCallTool = beta.createEndCallTool({
      onToolCalled: () =>
        tracker.ended('completed', 'the agent ended the call after the caller said goodbye'),
    });
    const callEnded = new AbortController();
    ctx.addShutdownCallback(() => {
      callEnded.abort();
      return Promise.resolve();
    });
    const keypad: DtmfSource = (onKey) => {
      const handler = (_code: number, digit: string, from: RemoteParticipant) => {
        if (from.identity === participant.identity) onKey(digit);
      };
      ctx.room.on(RoomEvent.DtmfReceived, handler);
      return () => ctx.room.off(RoomEvent.DtmfReceived, handler);
    };
    const accountNumber = accountNumberTool({
      caller: () => live.current,
      dtmf: keypad,
      say: (text) => {
        session.say(text);
      },
      signal: callEnded.signal,
    });
    const desk =
      options.transfer === undefined
        ? undefined
        : new TransferDesk({
            livekit: config.livekit,
            consultModels: () => createSpeechModels(config.models),
            vad: (ctx.proc.userData as Partial<ProcessData>).vad ?? null,
            session,
            room: ctx.room,
            caller: () => live.current,
            tracker,
            options: options.transfer,
            callerGone: callerGone.signal,
            endJob: (reason) => ctx.shutdown(reason),
            log: callLog,
          });
    transfers.desk = desk;
    ctx.addShutdownCallback(async () => {
      await desk?.settle();
    });
    await session.start({
      agent: new voice.Agent({
        instructions: RECEPTIONIST_INSTRUCTIONS,
        tools: [
          endCallTool,
          accountNumber,
          sendTonesTool(() => live.current),
          ...(desk?.tools() ?? []),
        ],
      }),
      room: ctx.room,
      inputOptions: { participantIdentity: participant.identity },
    });
    callLog.info('call started');
    const greeting = (ctx.proc.userData as Partial<ProcessData>).greetings?.[caller.channel];
    if (greeting !== undefined) {
      session.say(greeting.text, { audio: greeting.audio() });
    } else {
      session.say(greetingFor(caller.channel));
    }

    if (options.maxCallDurationMs !== undefined) {
      const timer = setTimeout(() => {
        endCallAt(GOODBYE_AT_TIME_LIMIT, 'the call reached its time limit').catch(
          (err: unknown) => {
            callLog.error({ err }, 'failed to end the call at its time limit');
          },
        );
      }, options.maxCallDurationMs);
      ctx.addShutdownCallback(() => {
        clearTimeout(timer);
        return Promise.resolve();
      });
    }

    /** Says goodbye, then deletes the room: livekit-sip sends BYE, a browser is disconnected. */
    async function endCallAt(goodbye: string, reason: string): Promise<void> {
      if (tracker.hasEnded) return;
      tracker.ended('agent_ended', reason);
      await session.say(goodbye, { allowInterruptions: false }).waitForPlayout();
      await ctx.deleteRoom();
      ctx.shutdown(reason);
    }
  },
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const config = loadConfig();
    await preflight(config);
    console.log(createSpeechModels(config.models).description);
    // Production: this package's worker around the framework's AgentServer (capacity, drain,
    // health; src/worker). Everything else (dev, connect, console) is the agents CLI.
    if (process.argv[2] === 'start') {
      await runProductionWorker({
        agentFile: fileURLToPath(import.meta.url),
        config,
        ...parseStartArgs(process.argv.slice(3), config.worker.logLevel),
      });
    } else {
      cli.runApp(
        new ServerOptions({
          agent: fileURLToPath(import.meta.url),
          agentName: config.agentName,
          wsURL: config.livekit.url,
          apiKey: config.livekit.apiKey,
          apiSecret: config.livekit.apiSecret,
          numIdleProcesses: config.idleProcesses,
          loadFunc: callCountLoad(config.maxConcurrentCalls),
          // Full at maxConcurrentCalls, in development too (the framework's dev default is no limit).
          loadThreshold: 1,
          host: config.agentHttp.host,
          ...(config.agentHttp.port === undefined ? {} : { port: config.agentHttp.port }),
        }),
      );
    }
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    console.error(`error [${err.code}]: ${err.message}`);
    process.exit(1);
  }
}
