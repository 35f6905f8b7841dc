import { EventEmitter } from 'node:events';
import { llm, voice, type JobProcess } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CallTracker } from '../../src/call-records/index.js';
import {
  brandCall,
  callOf,
  defineCallAgent,
  guardTools,
  recordSession,
  SilenceWatch,
  TOOL_FAILURE_MESSAGE,
  toolsFor,
  validateAgentDefinition,
  type Call,
  type CallAgentDefinition,
  type RecordedSession,
} from '../../src/call/index.js';
import { preparedProcess, prepareProcess } from '../../src/call/prewarm.js';
import { TECHNICAL_TROUBLE_APOLOGY } from '../../src/conversation/last-words.js';
import { resolveCallOptions } from '../../src/dispatch/index.js';
import { dtmfEventCode, sendTones, type Timers } from '../../src/dtmf/index.js';
import { isSwitchboardError } from '../../src/errors/index.js';
import { phoneCaller } from '../support/callers.js';

const minimal: CallAgentDefinition = {
  name: 'desk',
  instructions: 'Be brief.',
  greeting: 'Hello.',
};

function problemsOf(def: unknown): string {
  try {
    validateAgentDefinition(def);
  } catch (err) {
    expect(isSwitchboardError(err) && err.code).toBe('agent_definition_invalid');
    return (err as Error).message;
  }
  throw new Error('the definition was accepted');
}

describe('agent definition', () => {
  it('accepts a definition with only a name, instructions and a greeting', () => {
    expect(validateAgentDefinition(minimal)).toBe(minimal);
  });

  it.each([
    ['no name', { instructions: 'x', greeting: 'hi' }, /name: required/],
    ['a name with a space', { ...minimal, name: 'front desk' }, /name: letters, digits/],
    ['no instructions', { name: 'a', greeting: 'hi' }, /instructions: required: the system prompt/],
    ['blank instructions', { ...minimal, instructions: '  ' }, /instructions: must not be empty/],
    ['no greeting', { name: 'a', instructions: 'x' }, /greeting: required/],
    ['a greeting without web', { ...minimal, greeting: { phone: 'hi' } }, /greeting: required/],
    ['a misspelt key', { ...minimal, greting: 'hi' }, /Unrecognized key: "greting"/],
    [
      'a misspelt default',
      { ...minimal, defaults: { maxCallDurationMS: 1000 } },
      /defaults: Unrecognized key: "maxCallDurationMS"/,
    ],
    ['models that are not a function', { ...minimal, models: {} }, /models: must be a function/],
    ['an empty phrase', { ...minimal, phrases: { silencePrompt: '' } }, /phrases\.silencePrompt/],
  ])('rejects %s, naming the field', (_what, def, message) => {
    expect(problemsOf(def)).toMatch(message);
  });

  it('lists every problem at once and says where to fix them', () => {
    const message = problemsOf({ greeting: '' });
    expect(message).toMatch(/name:/);
    expect(message).toMatch(/instructions:/);
    expect(message).toMatch(/greeting:/);
    expect(message).toMatch(/defineCallAgent/);
  });

  it('defineCallAgent gives an agents-js agent carrying its definition; a bad one carries its problem and cannot prewarm', () => {
    const agent = defineCallAgent(minimal);
    expect(typeof agent.entry).toBe('function');
    expect(typeof agent.prewarm).toBe('function');
    expect(Symbol.for('livekit.agents.AgentDefinition') in agent).toBe(true);
    expect(agent.definition.name).toBe('desk');
    expect(agent.problem).toBeUndefined();
    const bad = defineCallAgent({ ...minimal, name: '' });
    expect(bad.problem?.code).toBe('agent_definition_invalid');
    expect(bad.problem?.message).toMatch(/name: letters, digits/);
    expect(() => bad.prewarm?.({} as never)).toThrow(/name: letters, digits/);
  });

  it('takes tools as a list or as an object whose keys name them', () => {
    const ping = llm.tool({ description: 'ping', execute: async () => 'pong' });
    const named = llm.tool({ name: 'named', description: 'n', execute: async () => 'n' });
    const call = fakeCall();
    const fromMap = toolsFor({ ...minimal, tools: { ping } }, call);
    const fromList = toolsFor({ ...minimal, tools: [named] }, call);
    const fromFn = toolsFor(
      { ...minimal, tools: (c) => (c.caller.channel === 'phone' ? [named] : []) },
      call,
    );
    expect(fromMap.map((t) => (t as llm.FunctionTool).name)).toEqual(['ping']);
    expect(fromList.map((t) => (t as llm.FunctionTool).name)).toEqual(['named']);
    expect(fromFn.map((t) => (t as llm.FunctionTool).name)).toEqual(['named']);
  });
});

describe('per-line options', () => {
  it.each([
    [
      'no metadata: the defaults',
      undefined,
      { maxCallDurationMs: 60_000, silenceTimeoutMs: 5_000 },
    ],
    [
      'metadata overrides field by field',
      '{"silenceTimeoutMs": 9000}',
      { maxCallDurationMs: 60_000, silenceTimeoutMs: 9_000 },
    ],
    [
      'invalid metadata keeps the defaults',
      '{"maxCallDurationMS": 1000}',
      { maxCallDurationMs: 60_000, silenceTimeoutMs: 5_000 },
    ],
  ])('%s', (_what, metadata, expected) => {
    const r = resolveCallOptions({ maxCallDurationMs: 60_000, silenceTimeoutMs: 5_000 }, metadata);
    expect(r.options).toEqual(expected);
  });

  it('says why invalid metadata was ignored', () => {
    const r = resolveCallOptions({}, '{"maxCallDurationMS": 1000}');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/maxCallDurationMS/);
  });
});

describe('callOf', () => {
  it('gives a tool its call from the session userData', () => {
    const call = fakeCall();
    expect(callOf({ userData: call })).toBe(call);
  });

  it('refuses outside a switchboard call, saying where the tool belongs', () => {
    expect(() => callOf({ userData: { caller: phoneCaller } })).toThrow(/defineCallAgent/);
  });
});

describe('guardTools', () => {
  const opts = { ctx: {} as never, toolCallId: 't1', abortSignal: new AbortController().signal };

  it('turns an unexpected exception into a tool error the model apologises for, logged without its message', async () => {
    const errors: object[] = [];
    const [tool] = guardTools(
      [
        llm.tool({
          name: 'lookup',
          description: 'd',
          execute: async () => {
            throw new TypeError('caller said 4111 1111');
          },
        }),
      ],
      { error: (context) => errors.push(context) },
    );
    const run = (tool as llm.FunctionTool).execute({}, opts);
    await expect(run).rejects.toBeInstanceOf(llm.ToolError);
    await expect(run).rejects.toThrow(TOOL_FAILURE_MESSAGE);
    expect(errors).toEqual([{ tool: 'lookup', errorClass: 'TypeError' }]);
    expect(JSON.stringify(errors)).not.toContain('4111');
  });

  it('passes a deliberate ToolError and normal results through', async () => {
    const errors: object[] = [];
    const [refuse, ok] = guardTools(
      [
        llm.tool({
          name: 'refuse',
          description: 'd',
          execute: async () => {
            throw new llm.ToolError('no slots that day');
          },
        }),
        llm.tool({
          name: 'ok',
          description: 'd',
          parameters: z.object({ n: z.number() }),
          execute: async ({ n }) => n * 2,
        }),
      ],
      { error: (context) => errors.push(context) },
    );
    await expect((refuse as llm.FunctionTool).execute({}, opts)).rejects.toThrow(
      'no slots that day',
    );
    await expect((ok as llm.FunctionTool).execute({ n: 21 }, opts)).resolves.toBe(42);
    expect(errors).toEqual([]);
  });
});

/** A session (an event emitter standing in for AgentSession's events) feeding a call record. */
function recording(onsetPausedSince?: () => number | undefined) {
  const session = new EventEmitter();
  const tracker = new CallTracker({ callId: 'AJ', room: 'r', agentName: 'a', caller: phoneCaller });
  const recorded: unknown = session;
  recordSession(recorded as RecordedSession, tracker, onsetPausedSince);
  return { session, tracker, T: voice.AgentSessionEventTypes };
}

describe('recordSession', () => {
  it('puts turns, barge-in, tool calls, usage and timings from the session into the record', () => {
    const { session, tracker, T } = recording();
    session.emit(T.AgentStateChanged, { newState: 'speaking' });
    session.emit(T.ConversationItemAdded, {
      item: { type: 'message', role: 'assistant', textContent: 'Hello.', interrupted: true },
    });
    session.emit(T.ConversationItemAdded, {
      item: { type: 'message', role: 'user', textContent: 'when can i come in' },
    });
    session.emit(T.FunctionToolsExecuted, {
      functionCalls: [{ name: 'find_free_slots', args: '{"day":"today"}' }],
      functionCallOutputs: [{ output: '{"slots":[]}', isError: false }],
    });
    session.emit(T.MetricsCollected, { metrics: { type: 'stt_metrics', audioDurationMs: 1500 } });
    session.emit(T.EotPrediction, { probability: 0.95, threshold: 0.5, delayMs: 320 });
    session.emit(T.MetricsCollected, {
      metrics: {
        type: 'eou_metrics',
        speechId: 's1',
        endOfUtteranceDelayMs: 400,
        transcriptionDelayMs: 300,
      },
    });
    session.emit(T.MetricsCollected, {
      metrics: {
        type: 'llm_metrics',
        speechId: 's1',
        ttftMs: 30,
        promptTokens: 10,
        completionTokens: 4,
      },
    });
    session.emit(T.MetricsCollected, {
      metrics: { type: 'tts_metrics', speechId: 's1', ttfbMs: 60, charactersCount: 12 },
    });
    const r = tracker.toRecord();
    expect(r.answeredAt).toBeDefined();
    expect(r.turns.map((t) => [t.role, t.text, t.interrupted ?? false])).toEqual([
      ['agent', 'Hello.', true],
      ['caller', 'when can i come in', false],
    ]);
    expect(r.toolCalls).toMatchObject([
      {
        name: 'find_free_slots',
        arguments: '{"day":"today"}',
        output: '{"slots":[]}',
        isError: false,
      },
    ]);
    expect(r.usage).toEqual({
      sttAudioSeconds: 1.5,
      llmPromptTokens: 10,
      llmCompletionTokens: 4,
      ttsCharacters: 12,
    });
    expect(r.turnTimings).toEqual([
      {
        speechId: 's1',
        endOfUtteranceDelayMs: 400,
        transcriptionDelayMs: 300,
        llmTtftMs: 30,
        ttsTtfbMs: 60,
        endOfTurnProbability: 0.95,
        endOfTurnThreshold: 0.5,
      },
    ]);
  });
});

describe('recordSession: barge-in timing', () => {
  /** A recorded session and its state changes, each at `ms` after a fixed instant. */
  function stateChanges(onsetPausedSince?: () => number | undefined) {
    const { session, tracker, T } = recording(onsetPausedSince);
    const createdAt = (ms: number) => Date.parse('2026-11-30T12:00:00.000Z') + ms;
    return {
      tracker,
      agent: (oldState: string, newState: string, ms: number) =>
        session.emit(T.AgentStateChanged, { oldState, newState, createdAt: createdAt(ms) }),
      caller: (oldState: string, newState: string, ms: number) =>
        session.emit(T.UserStateChanged, { oldState, newState, createdAt: createdAt(ms) }),
    };
  }

  it('records when the VAD heard the caller and how long the agent took to stop', () => {
    const { tracker, agent, caller } = stateChanges();
    agent('thinking', 'speaking', 0);
    caller('listening', 'speaking', 2_000);
    agent('speaking', 'listening', 2_034);
    expect(tracker.toRecord().bargeIns).toEqual([
      { heardAt: '2026-11-30T12:00:02.000Z', stoppedAfterMs: 34 },
    ]);
  });

  it('dates the onset pause that held the agent before the VAD decided', () => {
    const pausedAt = Date.parse('2026-11-30T12:00:01.940Z');
    const { tracker, agent, caller } = stateChanges(() => pausedAt);
    agent('thinking', 'speaking', 0);
    caller('listening', 'speaking', 2_000);
    agent('speaking', 'listening', 2_034);
    expect(tracker.toRecord().bargeIns).toEqual([
      {
        heardAt: '2026-11-30T12:00:02.000Z',
        stoppedAfterMs: 34,
        onsetPausedAt: '2026-11-30T12:00:01.940Z',
      },
    ]);
  });

  it('records nothing when the agent finishes with the caller silent, or the caller speaks while it listens', () => {
    const { tracker, agent, caller } = stateChanges();
    agent('thinking', 'speaking', 0);
    caller('listening', 'speaking', 500);
    caller('speaking', 'listening', 900);
    agent('speaking', 'listening', 3_000);
    caller('listening', 'speaking', 4_000);
    agent('listening', 'thinking', 5_000);
    expect(tracker.toRecord().bargeIns).toEqual([]);
  });
});

describe('SilenceWatch', () => {
  /** Timers the test fires by hand: no waiting. */
  function manualTimers() {
    const pending = new Map<number, { fn: () => void; ms: number }>();
    let next = 0;
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        pending.set(++next, { fn, ms });
        return next;
      },
      clearTimeout: (h) => pending.delete(h as number),
    };
    const fire = () => {
      const entries = [...pending.entries()];
      pending.clear();
      for (const [, t] of entries) t.fn();
    };
    return { timers, pending, fire };
  }

  function watch(state: { paused?: boolean; away?: boolean } = {}) {
    const said: string[] = [];
    const clock = manualTimers();
    const w = new SilenceWatch({
      silenceTimeoutMs: 7_000,
      prompt: async () => {
        said.push('prompt');
      },
      hangUp: async () => {
        said.push('hang up');
      },
      paused: () => state.paused === true,
      callerAway: () => state.away ?? true,
      onError: (err) => {
        throw err;
      },
      timers: clock.timers,
    });
    return { w, said, clock };
  }

  it('prompts after the first quiet spell and hangs up after a second one timed from the prompt', async () => {
    const { w, said, clock } = watch();
    w.onAway();
    await vi.waitFor(() => expect(clock.pending.size).toBe(1));
    expect([...clock.pending.values()][0]?.ms).toBe(7_000);
    clock.fire();
    expect(said).toEqual(['prompt', 'hang up']);
  });

  it('starts over when the caller speaks after the prompt', async () => {
    const { w, said, clock } = watch();
    w.onAway();
    await vi.waitFor(() => expect(clock.pending.size).toBe(1));
    w.onCallerSpoke();
    expect(clock.pending.size).toBe(0);
    w.onAway();
    await vi.waitFor(() => expect(said).toEqual(['prompt', 'prompt']));
  });

  it('stays quiet while paused (the caller is on hold)', () => {
    const { w, said } = watch({ paused: true });
    w.onAway();
    expect(said).toEqual([]);
  });

  it('times nothing once closed', async () => {
    const { w, clock } = watch();
    w.onAway();
    w.close();
    await new Promise((r) => setImmediate(r));
    expect(clock.pending.size).toBe(0);
  });
});

describe('DTMF out', () => {
  it.each([
    ['0', 0],
    ['5', 5],
    ['9', 9],
    ['*', 10],
    ['#', 11],
    ['A', 12],
    ['D', 15],
  ])('key %s is RFC 4733 event %i', (key, code) => {
    expect(dtmfEventCode(key)).toBe(code);
  });

  it('sends each key as one event with a gap, and refuses anything that is not a key', async () => {
    const sent: [number, string][] = [];
    const gaps: number[] = [];
    const publisher = {
      publishDtmf: async (code: number, digit: string) => void sent.push([code, digit]),
    };
    await sendTones(publisher, '12#', undefined, async (ms) => void gaps.push(ms));
    expect(sent).toEqual([
      [1, '1'],
      [2, '2'],
      [11, '#'],
    ]);
    expect(gaps).toEqual([300, 300, 300]);
    await expect(sendTones(publisher, '12x')).rejects.toThrow(/0-9 \* # A-D/);
  });
});

function fakeCall(): Call {
  return brandCall({
    id: 'AJ_1',
    room: 'r',
    caller: phoneCaller,
    options: {},
    signal: new AbortController().signal,
    say: async () => undefined,
    endCall: async () => undefined,
    collectDigits: async () => ({ status: 'no_keypad' }),
    sendTones: async () => ({ error: 'no_phone_line' }),
    transferToHuman: async () => ({ status: 'not_configured', detail: '' }),
    transferCold: async () => ({ status: 'not_configured', detail: '' }),
    annotate: () => undefined,
  });
}

describe('prewarm: bring your own models', () => {
  it("renders the greetings and the apology with the definition's own TTS, and loads its VAD", async () => {
    const synthesized: string[] = [];
    let closed = false;
    const ownTts = {
      synthesize: (text: string) => {
        synthesized.push(text);
        return {
          async *[Symbol.asyncIterator]() {
            yield { frame: new AudioFrame(new Int16Array(240), 24_000, 1, 240) };
          },
          close: () => undefined,
        };
      },
      close: async () => {
        closed = true;
      },
    };
    const ownVad = { label: 'own-vad' };
    const proc = { userData: {} } as unknown as JobProcess;
    const def: CallAgentDefinition = {
      ...minimal,
      greeting: { phone: 'Phone hello.', web: 'Web hello.' },
      vad: async () => ownVad as never,
    };
    await prepareProcess(proc, def, () => ({ tts: ownTts as never }));
    expect(synthesized).toEqual(['Phone hello.', 'Web hello.', TECHNICAL_TROUBLE_APOLOGY]);
    expect(closed).toBe(true);
    const prepared = preparedProcess(proc);
    expect(prepared.vad).toBe(ownVad);
    expect(prepared.greetings.phone?.text).toBe('Phone hello.');
    expect(prepared.greetings.web?.audioFrames).toHaveLength(1);
  });
});
