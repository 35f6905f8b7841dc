import { AutoSubscribe, beta, log, voice, type JobContext, type llm } from '@livekit/agents';
import {
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import { CallTracker, CheckpointStore, type RecordSink } from '../call-records/index.js';
import {
  LiveCaller,
  type Channel,
  type ParticipantSnapshot,
  type TrunkHeaderDirectory,
} from '../caller/index.js';
import type { Config } from '../config/index.js';
import { playLastWords } from '../conversation/last-words.js';
import { DEFAULT_PHRASES } from '../conversation/phrases.js';
import {
  TRANSCRIPTION_TIMEOUT_MS,
  userAwayTimeoutSeconds,
} from '../conversation/silence-policy.js';
import { resolveCallOptions } from '../dispatch/index.js';
import { collectDigits, sendTones, TONE_DIGITS, type DtmfSource } from '../dtmf/index.js';
import { isCancelledRequest } from '../models/cancelled-request.js';
import { sendTonesTool } from '../tools/send-tones.js';
import { TransferDesk, type TransferToolResult } from '../transfer/index.js';
import {
  ObservedVad,
  onsetPauseOptions,
  resolveTurnTaking,
  sessionTurnOptions,
  SpeechOnsetPause,
  type TurnTaking,
} from '../turns/index.js';
import { unseenCallerRecord, waitForCaller } from './abandoned-call.js';
import { CallCheckpointer } from './call-checkpoint.js';
import { brandCall, type Call, type CollectDigitsRequest } from './call.js';
import { CALLER_AUDIO_SAMPLE_RATE, CallerAudioInput } from './caller-audio-input.js';
import { ChunkedAudioOutput } from './chunked-audio-output.js';
import { greetingText, toolsFor, type CallAgentDefinition, type CallModels } from './definition.js';
import { hangUp, livekitHangUpPort } from './hang-up.js';
import {
  placedCallOutcome,
  reportInvalidOutbound,
  runPlacedCall,
  type PlacedCallState,
} from './placed-call.js';
import { preparedProcess } from './prewarm.js';
import { setVadSilenceMs } from './process-vad.js';
import { recordSession } from './session-record.js';
import { SilenceWatch } from './silence-watch.js';
import { CHAT_TOPIC, readBoundedText, textInputOf } from './text-input.js';
import { guardTools } from './tool-guard.js';

/**
 * How long a shutting-down job waits for a transfer to wind up (tell the human the caller left,
 * end the consult leg) before it writes the call record anyway; well inside the framework's 60 s
 * shutdown limit for a job process.
 */
const TRANSFER_SETTLE_LIMIT_MS = 15_000;
/** The agents framework's own default, in this package's unit. */
const DEFAULT_SILENCE_TIMEOUT_MS = 15_000;
/** The framework's own output rate (RoomIO's default); TTS audio is resampled to it. Unit: Hz. */
const AGENT_AUDIO_SAMPLE_RATE = 24_000;
/**
 * Agent audio buffered ahead of the network. A barge-in stops new audio at once, but what is
 * buffered still plays: rtc-node's default (1 s) made the agent talk on for a second over the
 * caller; the framework's own output uses 200 ms. 100 ms measured no underrun on a loaded 2-core
 * host (bench/RESULTS.md). Unit: ms.
 */
const AGENT_AUDIO_QUEUE_MS = 100;

export interface CallRuntime {
  def: CallAgentDefinition;
  config: Readonly<Config>;
  /** The name this worker registered under. */
  agentName: string;
  models: () => CallModels;
  records: RecordSink;
  /** Per process: the inbound trunks' headers_to_attributes, for the caller model. */
  trunkHeaders: TrunkHeaderDirectory;
}

function snapshot(p: RemoteParticipant): ParticipantSnapshot {
  return {
    identity: p.identity,
    kind: p.kind,
    attributes: p.attributes,
    ...(p.name === undefined ? {} : { name: p.name }),
  };
}

/**
 * One call from join to record: the job's entry for every agent built with `defineCallAgent`.
 * The agent definition supplies the persona; everything else a call needs is wired here.
 */
export async function runCall(ctx: JobContext, rt: CallRuntime): Promise<void> {
  const { def, config } = rt;
  const jobStartedAt = new Date();
  const logger = log().child({ jobId: ctx.job.id, agentName: rt.agentName });
  const resolved = resolveCallOptions(
    def.defaults ?? {},
    ctx.job.agentName === rt.agentName ? ctx.job.metadata : undefined,
  );
  const options = resolved.options;

  await ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
  // The agent's voice is published before anything else: livekit-sip answers a call once it has
  // subscribed to it, which would otherwise wait for the session and its models to start.
  const voiceOut = new ChunkedAudioOutput(ctx.room, {
    sampleRate: AGENT_AUDIO_SAMPLE_RATE,
    numChannels: 1,
    queueSizeMs: AGENT_AUDIO_QUEUE_MS,
    trackPublishOptions: new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  });
  const publishing = new AbortController();
  const published = voiceOut.start(publishing.signal).catch((err: unknown) => {
    logger.error({ err }, 'could not publish the agent audio track');
  });
  // start() waits for a subscriber without heeding the signal (agents 1.9.0): a caller who never
  // subscribes (a script) would hold the job, and its seat, for the framework's 60 s shutdown
  // limit after hanging up. Shutdown stops waiting for it.
  const stoppedPublishing = new Promise<void>((resolve) =>
    publishing.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  ctx.addShutdownCallback(async () => {
    publishing.abort();
    await Promise.race([published, stoppedPublishing]);
    await voiceOut.close();
  });
  // A call the agent places: dial first, and only a callee who answered gets a session.
  const outbound = resolved.ok ? options.outbound : undefined;
  let placed: PlacedCallState | undefined;
  if (outbound !== undefined) {
    placed = await placedCallOutcome(ctx, config.livekit, outbound, rt, logger);
    if (placed === undefined) return;
  } else if (!resolved.ok && /"outbound"/.test(ctx.job.metadata)) {
    // Nobody to apologise to: the number was never dialled. Whoever placed the call hears why.
    logger.error(
      { problem: resolved.error },
      'not dialling: the outbound call options are invalid',
    );
    await reportInvalidOutbound(ctx, config.livekit, resolved.error, logger);
    ctx.shutdown('invalid outbound call options');
    return;
  }
  const found = await waitForCaller(ctx, placed?.identity);
  if (found === undefined) {
    if (placed === undefined) {
      const record = unseenCallerRecord({
        callId: ctx.job.id,
        room: ctx.room.name ?? '',
        agentName: rt.agentName,
        arrivedAt: ctx.room.creationTime,
        startedAt: jobStartedAt,
        endedAt: new Date(),
      });
      await rt.records.write(record);
      logger.info({ outcome: record.outcome }, 'call record written');
    }
    ctx.shutdown('the caller left before the agent joined');
    return;
  }
  const participant = found;
  const live = new LiveCaller(snapshot(participant));
  const callLog = logger.child({ channel: live.current.channel });
  const tracker = new CallTracker({
    callId: ctx.job.id,
    room: ctx.room.name ?? '',
    agentName: rt.agentName,
    caller: live.current,
  });
  if (placed !== undefined) tracker.outbound(placed.record);
  // The record as the call goes, for the worker to write should this process die.
  const checkpoints = new CallCheckpointer({
    store: new CheckpointStore(config.records.dir),
    tracker,
    room: ctx.room.name ?? '',
    callerIdentity: () => live.current.identity,
    onError: (err) => callLog.warn({ err }, 'could not save the call checkpoint'),
  });
  // Filled in below, once the session exists; the record waits for a transfer under way.
  let desk: TransferDesk | undefined;
  ctx.addShutdownCallback(async () => {
    // A transfer cut short by the shutdown (the caller hung up, the time limit) records its
    // outcome first; callEnded, aborted by another shutdown callback, makes it end.
    await desk?.idle(TRANSFER_SETTLE_LIMIT_MS);
    tracker.ended('failed', 'the job shut down before the call ended');
    const record = tracker.toRecord();
    let written = false;
    try {
      await rt.records.write(record);
      written = true;
      callLog.info({ outcome: record.outcome }, 'call record written');
    } finally {
      // A record not written stays checkpointed: the worker writes it once this process exits.
      await checkpoints.stop(written);
    }
  });

  /**
   * Ends the call for sure (the room deleted, else the caller removed: livekit-sip sends BYE),
   * then the job. The framework's `ctx.deleteRoom()` only logs a failure, leaving the line open.
   */
  const endRoom = async (reason: string) => {
    const result = await hangUp(livekitHangUpPort(config.livekit), {
      room: ctx.room.name ?? '',
      callerIdentity: live.current.identity,
    });
    if (result === 'failed')
      callLog.error({ reason }, 'could not hang up: the room and the caller could not be removed');
    ctx.shutdown(reason);
  };

  // Fail closed: a line whose options do not validate would run without its time limit or its
  // transfer restrictions. The caller hears the apology; the log names the line.
  if (!resolved.ok) {
    const caller = live.current;
    callLog.error(
      {
        problem: resolved.error,
        ...(caller.channel === 'phone'
          ? { trunkId: caller.trunkId, dispatchRuleId: caller.dispatchRuleId }
          : {}),
      },
      "refusing the call: this line's dispatch metadata is invalid (npm run sip -- validate names the field)",
    );
    tracker.ended('failed', "the line's dispatch metadata is invalid");
    const apology = preparedProcess(ctx.proc).apology;
    if (apology !== undefined) {
      await playLastWords(ctx.room, apology);
      tracker.said('agent', apology.text);
    }
    await endRoom('invalid dispatch metadata');
    return;
  }

  // The trunk ID may arrive after the join; its header mapping is read once it is known.
  let mappedTrunk: string | undefined;
  const lookups = new Set<Promise<void>>();
  const mapTrunkHeaders = () => {
    const current = live.current;
    if (current.channel !== 'phone' || current.trunkId === undefined) return;
    if (current.trunkId === mappedTrunk) return;
    mappedTrunk = current.trunkId;
    const lookup = rt.trunkHeaders
      .headerAttributes(current.trunkId)
      .then((map) => {
        if (Object.keys(map).length === 0) return;
        live.mapHeaders(map);
        tracker.updateCaller(live.current);
      })
      .catch((err: unknown) => callLog.warn({ err }, 'could not read the trunk header mapping'))
      .finally(() => lookups.delete(lookup));
    lookups.add(lookup);
  };
  ctx.addShutdownCallback(async () => {
    await Promise.allSettled(lookups);
  });
  ctx.room.on(RoomEvent.ParticipantAttributesChanged, (_changed: Record<string, string>, p) => {
    if (p.identity !== participant.identity) return;
    live.refresh(snapshot(participant));
    tracker.updateCaller(live.current);
    mapTrunkHeaders();
  });
  mapTrunkHeaders();
  live.onStatusChange((change) =>
    callLog.debug({ from: change.from, to: change.to }, 'call status changed'),
  );
  // Aborted when the caller hangs up or the job ends: whatever runs on the caller's behalf stops.
  const callEnded = new AbortController();
  ctx.addShutdownCallback(() => {
    callEnded.abort();
    return Promise.resolve();
  });
  // An inbound phone call is answered when livekit-sip reports it active (the agent's audio
  // reached the caller); a browser caller is connected from the start.
  let answered =
    live.current.channel !== 'phone' ||
    live.current.direction === 'outbound' ||
    live.current.callStatus === 'active';
  live.onStatusChange((change) => {
    if (change.to === 'active') answered = true;
  });
  ctx.room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
    if (p.identity !== participant.identity) return;
    if (!answered) {
      tracker.abandoned(
        Date.now() - ctx.room.creationTime.getTime(),
        'the caller hung up while it rang',
      );
      callEnded.abort();
      // Nobody to talk to and nothing started that needs winding up: free the seat now.
      ctx.shutdown('the caller hung up while it rang');
      return;
    }
    tracker.ended('caller_hung_up', 'the caller hung up');
    callEnded.abort();
  });

  const phrases = { ...DEFAULT_PHRASES, ...def.phrases };
  /** The channel's turn-taking with the agent's and this line's changes; a bad range falls back. */
  const turnTakingFor = (channel: Channel): TurnTaking => {
    try {
      return resolveTurnTaking(channel, def.turnTaking, options.turnTaking);
    } catch (err) {
      callLog.error(
        { problem: (err as Error).message },
        "ignoring this line's turnTaking: it contradicts the defaults",
      );
      return resolveTurnTaking(channel, def.turnTaking);
    }
  };
  const models = rt.models();
  const prepared = preparedProcess(ctx.proc);
  const silenceTimeoutMs = options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;

  const keypad: DtmfSource = (onKey) => {
    const handler = (_code: number, digit: string, from: RemoteParticipant) => {
      if (from.identity === participant.identity) onKey(digit);
    };
    ctx.room.on(RoomEvent.DtmfReceived, handler);
    return () => ctx.room.off(RoomEvent.DtmfReceived, handler);
  };

  /** Says goodbye, then deletes the room: livekit-sip sends BYE, a browser is disconnected. */
  const endCall = async (goodbye: string, reason: string, outcome: 'agent_ended' | 'completed') => {
    if (tracker.hasEnded) return;
    tracker.ended(outcome, reason);
    if (goodbye !== '') await session.say(goodbye, { allowInterruptions: false }).waitForPlayout();
    await endRoom(reason);
  };

  const notConfigured = (what: string): TransferToolResult => ({
    status: 'not_configured',
    detail: `no ${what} is configured for this line`,
  });

  const call: Call = brandCall({
    id: ctx.job.id,
    room: ctx.room.name ?? '',
    get caller() {
      return live.current;
    },
    options,
    signal: callEnded.signal,
    say: async (text, opts) => {
      await session.say(text, opts).waitForPlayout();
    },
    endCall: (opts) =>
      endCall(opts?.goodbye ?? '', opts?.reason ?? 'the agent ended the call', 'agent_ended'),
    collectDigits: async (request: CollectDigitsRequest) => {
      if (!live.current.capabilities.dtmf) return { status: 'no_keypad' };
      return collectDigits(
        keypad,
        (attempt) => {
          session.say(attempt === 1 ? request.prompt : (request.reprompt ?? request.prompt));
        },
        { ...request, attempts: request.attempts ?? 2 },
        callEnded.signal,
      );
    },
    sendTones: async (digits) => {
      const local = ctx.room.localParticipant;
      if (!live.current.capabilities.dtmf || local === undefined) return { error: 'no_phone_line' };
      if (!TONE_DIGITS.test(digits)) return { error: 'invalid_digits' };
      await sendTones(local, digits, callEnded.signal);
      return { sent: digits };
    },
    transferToHuman: async (reason) =>
      desk === undefined || options.transfer?.human === undefined
        ? notConfigured('human')
        : desk.warm(reason),
    transferCold: async () =>
      desk === undefined || options.transfer?.coldTarget === undefined
        ? notConfigured('transfer target')
        : desk.cold(),
    annotate: (values) => tracker.annotate(values),
  });

  const turns = turnTakingFor(live.current.channel);
  const turnOptions = sessionTurnOptions(turns);
  // The process's VAD serves one call at a time (one job per process): set this call's silence.
  if (prepared.vad !== undefined) setVadSilenceMs(prepared.vad, turnOptions.vadMinSilenceMs);
  // Read through a function: the pause is built before the session whose output it pauses.
  let sessionOutput = (): voice.AudioOutput | null => null;
  const onsetOptions = prepared.vad === undefined ? undefined : onsetPauseOptions(turns);
  const onset =
    onsetOptions === undefined
      ? undefined
      : new SpeechOnsetPause({
          ...onsetOptions,
          output: () => sessionOutput(),
          onPause: () => callLog.debug('agent paused at the onset of caller speech'),
          onSettled: (confirmed) => callLog.debug({ confirmed }, 'onset pause settled'),
        });
  const sessionVad =
    onset === undefined || prepared.vad === undefined
      ? prepared.vad
      : new ObservedVad(prepared.vad, (w) => onset.window(w));
  const session = new voice.AgentSession<Call>({
    userData: call,
    userAwayTimeout: userAwayTimeoutSeconds(silenceTimeoutMs),
    transcriptionTimeout: TRANSCRIPTION_TIMEOUT_MS,
    turnHandling: turnOptions.turnHandling,
    aecWarmupDuration: turnOptions.aecWarmupDuration,
    vad: sessionVad ?? null,
    tts: models.tts,
    ...(models.stt === undefined ? {} : { stt: models.stt }),
    ...(models.llm === undefined ? {} : { llm: models.llm }),
  });
  // Before the onset pause's own listeners: on the framework's stop, the record reads when the
  // onset pause began before the pause lets go of it.
  recordSession(session, tracker, () => onset?.heldSince);
  if (onset !== undefined) {
    sessionOutput = () => session.output.audio;
    session.on(voice.AgentSessionEventTypes.SpeechCreated, (ev) =>
      onset.speechCreated(ev.speechHandle),
    );
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) =>
      onset.agentState(ev.newState),
    );
    ctx.addShutdownCallback(async () => {
      onset.close();
      await sessionVad?.close();
    });
  }
  session.on(voice.AgentSessionEventTypes.EotPrediction, (ev) =>
    callLog.debug(
      { probability: ev.probability, threshold: ev.threshold, delayMs: ev.delayMs },
      'end-of-turn prediction',
    ),
  );

  const silence = new SilenceWatch({
    silenceTimeoutMs,
    prompt: () => session.say(phrases.silencePrompt).waitForPlayout(),
    hangUp: () => endCall(phrases.goodbyeAfterSilence, 'the caller was silent', 'agent_ended'),
    // On hold during a transfer, silence is expected.
    paused: () => tracker.hasEnded || desk?.busy === true,
    callerAway: () => session.userState === 'away',
    onError: (err) => callLog.error({ err }, 'silence handling failed'),
  });
  ctx.addShutdownCallback(() => {
    silence.close();
    return Promise.resolve();
  });
  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    if (ev.newState === 'speaking') silence.onCallerSpoke();
    if (ev.newState === 'away') silence.onAway();
  });
  // Speech that produced no transcript (noise, a word outside what the recognizer knows): say
  // so, instead of leaving the caller in silence.
  session.on(voice.AgentSessionEventTypes.UserTranscriptionTimeout, () => {
    if (!tracker.hasEnded) session.say(phrases.notUnderstood);
  });
  // A model server that fails for good (STT, LLM or TTS): apologise with audio rendered
  // before the call, record why, hang up. The session may already be closing.
  session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    const recoverable = (ev.error as { recoverable?: boolean }).recoverable === true;
    if (isCancelledRequest(ev.error)) {
      callLog.debug({ type: ev.error.type }, 'a model request was cancelled by an interruption');
      return;
    }
    callLog.error({ err: ev.error, recoverable }, 'agent session error');
    if (recoverable || tracker.hasEnded) return;
    tracker.ended('failed', `the model server failed (${ev.error.type})`);
    (async () => {
      await session.close();
      if (prepared.apology !== undefined) {
        await playLastWords(ctx.room, prepared.apology);
        tracker.said('agent', prepared.apology.text);
      }
      await endRoom('model server failure');
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
  if (options.transfer !== undefined)
    desk = new TransferDesk({
      livekit: config.livekit,
      consultModels: rt.models,
      vad: prepared.vad ?? null,
      session,
      room: ctx.room,
      caller: () => live.current,
      tracker,
      options: options.transfer,
      callerGone: callEnded.signal,
      endJob: (reason) => ctx.shutdown(reason),
      log: callLog,
    });
  ctx.addShutdownCallback(async () => {
    await desk?.settle();
  });

  const tools: llm.ToolContextEntry[] = [
    endCallTool,
    sendTonesTool(),
    ...(desk?.tools() ?? []),
    ...guardTools(toolsFor(def, call), callLog),
  ];
  session.output.audio = voiceOut;
  // The caller's audio in larger frames than the room input reads: less per-frame work per call.
  const callerAudio = new CallerAudioInput(ctx.room, {
    participantIdentity: participant.identity,
    sampleRate: CALLER_AUDIO_SAMPLE_RATE,
    numChannels: 1,
  });
  session.input.audio = callerAudio;
  ctx.addShutdownCallback(() => callerAudio.close());
  // A caller who hung up while the job was setting up (an abandoned call) gets no session; read
  // through a function, since the hang-up can come during the awaits below.
  const hungUp = () => callEnded.signal.aborted;
  if (hungUp()) return;
  await session.start({
    agent: new voice.Agent<Call>({
      instructions:
        typeof def.instructions === 'function' ? def.instructions(call) : def.instructions,
      tools,
    }),
    room: ctx.room,
    // Typed messages are off: the framework would make each one an LLM turn, unbounded, also
    // while the caller is on hold. A line that wants them gets the bounded handler below.
    inputOptions: { participantIdentity: participant.identity, textEnabled: false },
    // The session uses the track published above instead of publishing its own.
    outputOptions: { audioEnabled: false },
  });
  if (hungUp()) {
    await session.close();
    return;
  }
  callLog.info('call started');
  const greet = () => {
    const greeting = prepared.greetings[live.current.channel];
    if (greeting !== undefined) session.say(greeting.text, { audio: greeting.audio() });
    else session.say(greetingText(def.greeting, live.current.channel));
  };
  if (placed === undefined) greet();
  else {
    // The callee speaks first, as on any phone call; a machine gets the message or a hang-up.
    const answering = runPlacedCall({
      placed,
      session,
      room: ctx.room,
      tracker,
      greet,
      endCall: endRoom,
      callEnded: callEnded.signal,
      log: callLog,
    }).catch((err: unknown) => callLog.error({ err }, 'answering the placed call failed'));
    ctx.addShutdownCallback(async () => {
      await answering;
    });
  }

  const textInput = textInputOf(options);
  if (textInput !== undefined) {
    ctx.room.registerTextStreamHandler(CHAT_TOPIC, (reader, from) => {
      if (from.identity !== participant.identity) return;
      readBoundedText(reader, textInput.maxChars)
        .then((read) => {
          if (!read.ok) {
            callLog.warn({ maxChars: textInput.maxChars }, 'ignoring a text message: too long');
            return;
          }
          // On hold, or the call ending: nobody is there to answer it.
          if (tracker.hasEnded || desk?.busy === true || read.text.trim() === '') return;
          session.interrupt();
          session.generateReply({ userInput: read.text });
        })
        .catch((err: unknown) => callLog.warn({ err }, 'could not read a text message'));
    });
    ctx.addShutdownCallback(() => {
      ctx.room.unregisterTextStreamHandler(CHAT_TOPIC);
      return Promise.resolve();
    });
  }

  // A browser call on a line without a time limit gets the web default (WEB_MAX_CALL_DURATION_MS).
  const maxCallDurationMs =
    options.maxCallDurationMs ??
    (live.current.channel === 'web' ? config.web.maxCallDurationMs : undefined);
  if (maxCallDurationMs !== undefined) {
    const timer = setTimeout(() => {
      endCall(phrases.goodbyeAtTimeLimit, 'the call reached its time limit', 'agent_ended').catch(
        (err: unknown) => callLog.error({ err }, 'failed to end the call at its time limit'),
      );
    }, maxCallDurationMs);
    ctx.addShutdownCallback(() => {
      clearTimeout(timer);
      return Promise.resolve();
    });
  }
}
