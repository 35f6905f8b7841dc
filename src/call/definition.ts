import { llm, type VAD } from '@livekit/agents';
import { z } from 'zod';
import type { Channel } from '../caller/index.js';
import type { CallPhrases } from '../conversation/phrases.js';
import { CallOptionsSchema, type CallOptions } from '../dispatch/index.js';
import { SwitchboardError } from '../errors/index.js';
import type { SpeechModels } from '../models/index.js';
import { TurnTakingOverridesSchema, type TurnTakingOverrides } from '../turns/index.js';
import type { Call } from './call.js';

/** The models of one call (see `SpeechModels`). */
export type CallModels = SpeechModels;

/** Tools as agents-js takes them: a list of named `llm.tool`s, or `{ name: llm.tool(...) }`. */
export type CallTools = Exclude<llm.ToolContextLike, llm.ToolContext>;

/** What the agent says first, per channel; a string serves both. */
export type Greeting = string | Readonly<Record<Channel, string>>;

/**
 * What makes an agent itself: its persona, its greeting, its tools and its per-line defaults.
 * Everything a call needs around it (caller model, call record, silence, end of call, time limit,
 * DTMF, transfers, model failures) comes from `defineCallAgent`.
 */
export interface CallAgentDefinition {
  /**
   * The agent name its workers register under (explicit dispatch): dispatch rules and browser
   * tokens name it. `LIVEKIT_AGENT_NAME` overrides it for one deployment.
   */
  name: string;
  /** The system prompt. A function receives the call, e.g. to address phone and web callers differently. */
  instructions: string | ((call: Call) => string);
  /** Prerendered per process where the TTS allows it, so the caller hears it without synthesis. */
  greeting: Greeting;
  /**
   * The agent's own tools: ordinary `llm.tool`s. Inside `execute`, `callOf(ctx)` gives the typed
   * `Call` (caller, options, end call, digits, tones, transfers). The package adds `end_call`,
   * `send_dtmf_events` for phone callers, and the transfer tools of lines that configure them.
   */
  tools?: CallTools | ((call: Call) => CallTools);
  /**
   * Per-line defaults of the call options (time limit, silence, transfers); the dispatch's agent
   * metadata overrides them field by field.
   */
  defaults?: CallOptions;
  /**
   * New model instances for one call; called per call, per transfer consult leg, and once per
   * process to prerender the greeting. Default: OpenAI (OPENAI_API_KEY) or the offline demo.
   */
  models?: () => CallModels;
  /**
   * Loaded once per job process. Default: Silero, run by the framework's native local inference
   * (`inference.VAD`); the Silero plugin where that binding does not load.
   */
  vad?: () => Promise<VAD>;
  /** Replaces the package's fixed lines (silence prompt, goodbyes, "didn't catch that"). */
  phrases?: Partial<CallPhrases>;
  /** Changes to the package's turn-taking defaults, per channel (lines may change them again). */
  turnTaking?: Partial<Record<Channel, TurnTakingOverrides>>;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', {
  message: 'must be a function',
});

/** Checked at start-up, so a forgotten part is an error naming it instead of a silent call. */
const DefinitionSchema = z
  .object({
    name: z
      .string({ message: 'required: the agent name dispatch rules and tokens use' })
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'letters, digits, "-" and "_", at most 63'),
    instructions: z.union([z.string().trim().min(1, 'must not be empty'), fn], {
      message: 'required: the system prompt, as a non-empty string or a function of the call',
    }),
    greeting: z.union(
      [
        z.string().trim().min(1, 'must not be empty'),
        z
          .object({
            phone: z.string().trim().min(1, 'must not be empty'),
            web: z.string().trim().min(1, 'must not be empty'),
          })
          .strict(),
      ],
      { message: 'required: a non-empty string, or { phone, web } with both set' },
    ),
    tools: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown()), fn]).optional(),
    defaults: CallOptionsSchema.optional(),
    models: fn.optional(),
    vad: fn.optional(),
    phrases: z
      .object({
        silencePrompt: z.string().trim().min(1, 'must not be empty'),
        goodbyeAfterSilence: z.string().trim().min(1, 'must not be empty'),
        notUnderstood: z.string().trim().min(1, 'must not be empty'),
        goodbyeAtTimeLimit: z.string().trim().min(1, 'must not be empty'),
      })
      .partial()
      .strict()
      .optional(),
    turnTaking: z
      .object({ phone: TurnTakingOverridesSchema, web: TurnTakingOverridesSchema })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

/** Throws one error listing every problem of an agent definition, each with its field. */
export function validateAgentDefinition(def: unknown): CallAgentDefinition {
  const parsed = DefinitionSchema.safeParse(def);
  if (parsed.success) return def as CallAgentDefinition;
  const problems = parsed.error.issues.map(
    (i) => `  - ${i.path.length === 0 ? '(definition)' : i.path.join('.')}: ${i.message}`,
  );
  const name =
    typeof def === 'object' && def !== null && typeof (def as { name?: unknown }).name === 'string'
      ? ` "${(def as { name: string }).name}"`
      : '';
  throw new SwitchboardError(
    'agent_definition_invalid',
    `The agent definition${name} is incomplete or invalid:\n${problems.join('\n')}\n` +
      'Fix the object passed to defineCallAgent (see the README, "Write your own agent").',
  );
}

/** The definition's tools for one call, as a list (an object's keys become the tools' names). */
export function toolsFor(def: CallAgentDefinition, call: Call): llm.ToolContextEntry[] {
  const tools = typeof def.tools === 'function' ? def.tools(call) : def.tools;
  return tools === undefined ? [] : [...new llm.ToolContext(tools).tools];
}

export function greetingText(greeting: Greeting, channel: Channel): string {
  return typeof greeting === 'string' ? greeting : greeting[channel];
}
