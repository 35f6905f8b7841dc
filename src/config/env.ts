import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SwitchboardError } from '../errors/index.js';
import {
  machineResources,
  MEASURED_CALL_COST,
  resolveCapacity,
  type CallCapacity,
  type MachineResources,
} from '../worker/capacity.js';
import {
  DEFAULT_JOB_MALLOC_ARENAS,
  DEFAULT_JOB_SEMI_SPACE_MB,
  type JobProcessMemory,
} from '../worker/job-process-memory.js';
import {
  LOCAL_API_KEY,
  LOCAL_API_SECRET,
  localLivekitUrl,
  localSpeechUrl,
  localStackLayout,
  type NetworkMode,
} from './local-stack.js';

/**
 * The environment, parsed once at start-up. Nothing else in the package reads `process.env`:
 * this module turns it into a frozen, typed `Config` and everything else receives that.
 */
const optionalString = z
  .string()
  .transform((v) => v.trim())
  .pipe(z.string())
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const optionalUrl = (protocols: string[]) =>
  optionalString.refine(
    (v) => v === undefined || (URL.canParse(v) && protocols.includes(new URL(v).protocol)),
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const agentName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'letters, digits, "-" and "_", at most 63');

const CPU_PER_CALL_RANGE =
  'a share of one core above 0 and at most 8, e.g. 0.32 for 32 % (measure it: docs/production.md "Capacity")';
const MEMORY_PER_CALL_RANGE =
  'MiB of memory per call, above 0 and at most 65536, e.g. 100 (measure it: docs/production.md "Capacity")';

const EnvSchema = z.object({
  SWITCHBOARD_NETWORK: z.enum(['netns', 'loopback']).default('netns'),
  LIVEKIT_URL: optionalUrl(['ws:', 'wss:', 'http:', 'https:']),
  LIVEKIT_API_KEY: optionalString,
  LIVEKIT_API_SECRET: optionalString,
  /** Overrides the agent file's own name (one deployment of the same agent under another name). */
  LIVEKIT_AGENT_NAME: agentName.optional(),
  /** The agents the demo page may dispatch, the first being the default. */
  WEB_AGENTS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    )
    .pipe(z.array(agentName).min(1, 'name at least one agent'))
    .default(['switchboard', 'appointments']),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl(['http:', 'https:']),
  OPENAI_LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_STT_MODEL: z.string().min(1).default('gpt-4o-mini-transcribe'),
  OPENAI_TTS_MODEL: z.string().min(1).default('gpt-4o-mini-tts'),
  OPENAI_TTS_VOICE: z.string().min(1).default('alloy'),
  SWITCHBOARD_SPEECH_URL: optionalUrl(['http:', 'https:']),
  CALL_RECORDS_DIR: z.string().min(1).default('.stack/records'),
  /** Also POST each record here, signed (for hosts without a durable disk, e.g. LiveKit Cloud). */
  CALL_RECORDS_WEBHOOK_URL: optionalUrl(['http:', 'https:']),
  CALL_RECORDS_WEBHOOK_SECRET: optionalString,
  /** Records not yet delivered to the webhook wait here. Default: <CALL_RECORDS_DIR>/spool. */
  CALL_RECORDS_SPOOL_DIR: optionalString,
  /**
   * Record files older than this are removed (whole UTC days, never a record inside the window).
   * Unit: days. Default 90: records hold phone numbers and transcripts, kept no longer than a
   * quarter's reviews and disputes need; a deployment that keeps them longer archives them itself.
   */
  CALL_RECORDS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(90),
  WEB_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** A module whose `authorize` (or default) export decides who gets a token. Unset: open. */
  WEB_AUTH_MODULE: optionalString,
  /** Origins whose pages may ask for a token. Unset: only the page's own origin. */
  WEB_ALLOWED_ORIGINS: optionalString
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(',')
            .map((o) => o.trim())
            .filter((o) => o !== ''),
    )
    .pipe(
      z
        .array(
          z.string().refine((o) => URL.canParse(o) && new URL(o).origin === o, {
            message:
              'each origin is scheme://host[:port], no path or trailing slash (e.g. https://app.example.com)',
          }),
        )
        .min(1, 'name at least one origin, or leave it unset for the page itself')
        .optional(),
    ),
  /** How long a browser token may be used to join (the call outlives it). */
  WEB_TOKEN_TTL_SECONDS: z.coerce.number().int().min(5).max(3_600).default(30),
  WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(10),
  WEB_TOKEN_RATE_PER_USER_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(5),
  WEB_MAX_CALLS_PER_USER: z.coerce.number().int().min(1).max(1_000).default(2),
  /** The time limit of a browser call whose line sets none. 0: none. */
  WEB_MAX_CALL_DURATION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3_600_000)
    .refine((ms) => ms === 0 || ms >= 1_000, { message: 'at least 1000, or 0 for no limit' })
    .default(600_000),
  /**
   * Callbacks from the page (POST /api/callback) are placed through this outbound trunk, by name
   * as `npm run sip` provisions it. Unset: the page offers no callbacks (404 naming this variable):
   * every callback is a real phone call someone pays for, to a number a stranger typed.
   */
  WEB_CALLBACK_TRUNK: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a trunk name: letters, digits, ".", "_", "-"')
      .optional(),
  ),
  /** The agent that calls back unless the request names another of WEB_AGENTS. Default: WEB_AGENTS' first. */
  WEB_CALLBACK_AGENT: agentName.optional(),
  /**
   * Callback requests per client address per hour (all at once, then one every 60/N min). Default
   * 10: a person asks once or twice; an office behind one address a few times more.
   */
  WEB_CALLBACK_RATE_PER_ADDRESS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(10),
  /** Callback requests per user (the hook's userId; anonymous: per address) per hour. Default 3. */
  WEB_CALLBACK_RATE_PER_USER_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(3),
  /**
   * Callbacks to one number in any 24 hours, whoever asks. Default 3: the callee did not
   * necessarily ask; strangers typing someone's number cannot ring it more than this a day.
   */
  WEB_CALLBACK_PER_NUMBER_PER_DAY: z.coerce.number().int().min(1).max(100).default(3),
  /** Numbers callbacks never dial (one E.164 per line, as `campaign --dnc`), read on every request. */
  WEB_CALLBACK_DNC_FILE: optionalString,
  /** Each callback's campaign state (`npm run campaign -- status --dir`). Default: the campaigns'. */
  WEB_CALLBACK_CAMPAIGNS_DIR: z.string().min(1).default('.stack/campaigns'),
  /** The worker's health server (GET / and /worker). Default: the agents framework's (random in dev, 8081 in production). */
  AGENT_HTTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  AGENT_IDLE_PROCESSES: z.coerce.number().int().min(1).max(16).default(1),
  /**
   * Unit: ms. How long a new idle job process, forked as a call takes the current one, waits
   * before it loads, so that its ~3.4 s of start-up CPU does not slow the call's set-up. 0: no wait.
   */
  AGENT_SPARE_PROCESS_HOLD_MS: z.coerce.number().int().min(0).max(10_000).default(1_500),
  /**
   * Unit: MiB. The most each of V8's two young-generation semi-spaces may grow to in the job
   * processes (src/worker/job-process-memory.ts). 0: V8's default (16 on 64-bit).
   */
  AGENT_JOB_SEMI_SPACE_MB: z.coerce
    .number()
    .int()
    .min(0)
    .max(64)
    .default(DEFAULT_JOB_SEMI_SPACE_MB),
  /**
   * glibc's malloc arenas in the job processes (src/worker/job-process-memory.ts). 0: glibc's
   * default (eight per core). Ignored when MALLOC_ARENA_MAX is set: that applies everywhere.
   */
  AGENT_JOB_MALLOC_ARENAS: z.coerce
    .number()
    .int()
    .min(0)
    .max(64)
    .default(DEFAULT_JOB_MALLOC_ARENAS),
  /** glibc's own; read only to leave it standing (forked processes inherit it). */
  MALLOC_ARENA_MAX: z.coerce.number().int().min(1).optional(),
  /** Calls one worker takes at once. Unset: what the machine fits (src/worker/capacity.ts). */
  AGENT_MAX_CALLS: z.coerce.number().int().min(1).max(1000).optional(),
  /** Share of one core a call costs, for the derived AGENT_MAX_CALLS. Default: measured, 0.22. */
  AGENT_CPU_PER_CALL: z.coerce
    .number({ error: CPU_PER_CALL_RANGE })
    .refine((share) => share > 0 && share <= 8, CPU_PER_CALL_RANGE)
    .optional(),
  /** Unit: MiB. Memory (PSS) a call costs, for the derived AGENT_MAX_CALLS. Default: measured, 138. */
  AGENT_MEMORY_PER_CALL_MB: z.coerce
    .number({ error: MEMORY_PER_CALL_RANGE })
    .refine((mib) => mib > 0 && mib <= 65_536, MEMORY_PER_CALL_RANGE)
    .optional(),
  /** Seats of AGENT_MAX_CALLS only phone calls may take. Default: a fifth, rounded up, leaving browsers one. */
  AGENT_PHONE_RESERVED_CALLS: z.coerce.number().int().min(0).max(1000).optional(),
  /** Share of the machine's cores the worker's own processes may use before it declines calls. */
  AGENT_MAX_CPU_PERCENT: z.coerce.number().int().min(1).max(100).default(80),
  /** The production worker's own health endpoint (GET /health: starting, ready, disconnected or draining). */
  AGENT_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  /** How long a SIGTERM waits for calls in progress before ending them. */
  AGENT_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
  /** How long a call this worker declines waits for another worker before the caller gets busy. */
  AGENT_BUSY_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  /** Set by LiveKit Cloud for the workers it runs. */
  LIVEKIT_WORKER_TOKEN: optionalString,
});

/** Every variable this package reads (`.env.example` documents each one). */
export const ENV_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

/**
 * The worker's call capacity from its own variables alone, so that the rules that depend on it are
 * reported with every other problem; undefined while one of those variables is itself malformed
 * (the schema reports it).
 */
function capacityOf(
  env: Record<string, string | undefined>,
  machine: MachineResources,
): CallCapacity | undefined {
  const { shape } = EnvSchema;
  const maxCalls = shape.AGENT_MAX_CALLS.safeParse(env.AGENT_MAX_CALLS);
  const cpuPerCall = shape.AGENT_CPU_PER_CALL.safeParse(env.AGENT_CPU_PER_CALL);
  const memoryPerCallMiB = shape.AGENT_MEMORY_PER_CALL_MB.safeParse(env.AGENT_MEMORY_PER_CALL_MB);
  if (!maxCalls.success || !cpuPerCall.success || !memoryPerCallMiB.success) return undefined;
  return resolveCapacity(maxCalls.data, machine, {
    ...MEASURED_CALL_COST,
    ...(cpuPerCall.data === undefined ? {} : { cpuPerCall: cpuPerCall.data }),
    ...(memoryPerCallMiB.data === undefined ? {} : { memoryPerCallMiB: memoryPerCallMiB.data }),
  });
}

/** Cross-variable rules, checked on the raw environment so they are reported with every other problem. */
function crossFieldProblems(
  env: Record<string, string | undefined>,
  capacity: CallCapacity | undefined,
): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const problems: string[] = [];
  if (set('LIVEKIT_URL')) {
    // A remote server never gets the local development key by default.
    if (!set('LIVEKIT_API_KEY')) problems.push('LIVEKIT_API_KEY: required when LIVEKIT_URL is set');
    if (!set('LIVEKIT_API_SECRET'))
      problems.push('LIVEKIT_API_SECRET: required when LIVEKIT_URL is set');
  }
  if (set('CALL_RECORDS_WEBHOOK_URL') && (env.CALL_RECORDS_WEBHOOK_SECRET ?? '').trim().length < 32)
    problems.push(
      'CALL_RECORDS_WEBHOOK_SECRET: required with CALL_RECORDS_WEBHOOK_URL, at least 32 characters (e.g. `openssl rand -hex 32`); the receiver verifies signatures with it',
    );
  const reserved = Number(env.AGENT_PHONE_RESERVED_CALLS ?? 0);
  if (capacity !== undefined && set('AGENT_PHONE_RESERVED_CALLS') && reserved > capacity.maxCalls)
    problems.push(
      `AGENT_PHONE_RESERVED_CALLS: ${reserved} is more than AGENT_MAX_CALLS (${describeMaxCalls(capacity)}); reserve at most all of the worker's seats` +
        (capacity.limitedBy === 'configured' ? '' : ', or set AGENT_MAX_CALLS'),
    );
  if (set('OPENAI_BASE_URL') && !set('OPENAI_API_KEY')) {
    problems.push(
      'OPENAI_API_KEY: required with OPENAI_BASE_URL (servers such as Ollama accept any non-empty value)',
    );
  }
  return problems;
}

/** AGENT_MAX_CALLS's value for a message: as set, or derived and from what. */
function describeMaxCalls({ maxCalls, limitedBy, inputs }: CallCapacity): string {
  if (limitedBy === 'configured') return String(maxCalls);
  const { cores, memoryMiB } = inputs.machine;
  return `unset, so ${maxCalls}: what this machine's ${cores} cores and ${memoryMiB} MiB fit, limited by ${limitedBy}`;
}

export type ModelProvider =
  /** OpenAI, or any OpenAI-compatible server (Ollama, vLLM) given by OPENAI_BASE_URL. */
  | {
      kind: 'openai';
      apiKey: string;
      baseUrl?: string;
      llmModel: string;
      sttModel: string;
      ttsModel: string;
      ttsVoice: string;
    }
  /** The stack's offline speech server: espeak-ng speech. Not an AI model. */
  | { kind: 'offline'; baseUrl: string };

export interface LivekitConfig {
  url: string;
  apiKey: string;
  apiSecret: string;
  /** True when URL and keys are the local stack's defaults (nothing was configured). */
  isLocalStack: boolean;
}

export interface Config {
  network: NetworkMode;
  livekit: LivekitConfig;
  /** LIVEKIT_AGENT_NAME: replaces the agent definition's name when set. */
  agentName?: string;
  /** The agents the demo page's token endpoint may dispatch; the first is its default. */
  webAgents: readonly [string, ...string[]];
  models: ModelProvider;
  callRecordsDir: string;
  records: RecordsConfig;
  webPort?: number;
  /** Where the worker's health server listens; against the local stack only its service address. */
  agentHttp: { host: string; port?: number };
  /**
   * Job processes kept started and prewarmed (VAD loaded) for the next call. At least 1: besides
   * saving the process start on every call, @livekit/agents 1.9.0 with 0 never forgets a finished
   * job's process (ProcPool.launchJob does not remove it), so `active_jobs` only grows.
   */
  idleProcesses: number;
  /**
   * How long a new idle job process, forked as a call takes the current one, waits before it
   * loads (src/worker/spare-process-hold.ts). Unit: ms; 0 turns the wait off.
   */
  spareProcessHoldMs: number;
  /** What the worker's forked processes may keep of memory a call never uses. */
  jobMemory: JobProcessMemory;
  /**
   * Calls this worker handles at once; its reported load is active calls / this. AGENT_MAX_CALLS,
   * else what the machine fits (`capacity`).
   */
  maxConcurrentCalls: number;
  /** How `maxConcurrentCalls` was found: set, or derived from this machine and the cost per call. */
  capacity: CallCapacity;
  /**
   * Seats of `maxConcurrentCalls` only phone calls may take: browser calls are turned away once
   * `maxConcurrentCalls - phoneReservedCalls` of them run (production worker).
   */
  phoneReservedCalls: number;
  /** The browser entrance: the token endpoint's limits and the web calls' time limit. */
  web: WebEntranceConfig;
  /** Callbacks the page may ask for (POST /api/callback); off without a trunk. */
  webCallback: WebCallbackConfig;
  /** The production worker (`npm run agent start`): capacity, drain and health. */
  worker: WorkerConfig;
}

/** The browser entrance (the token endpoint and the worker's default for web calls). */
export interface WebEntranceConfig {
  /** A module exporting the `TokenAuthorizer` (`authorize` or default); unset: open to anyone. */
  authModule?: string;
  /** Origins whose pages may ask for tokens; unset: only the endpoint's own origin. */
  allowedOrigins?: readonly string[];
  /** Unit: seconds. How long a token may be used to join; the call outlives it. */
  tokenTtlSeconds: number;
  /** Tokens a client address may get per minute (a minute's worth at once). */
  tokenRatePerAddressPerMinute: number;
  /** Tokens a user (the authorizer's userId) may get per minute. */
  tokenRatePerUserPerMinute: number;
  /** Calls one user may have at once (live in LiveKit, or tokens issued and not yet used). */
  maxCallsPerUser: number;
  /** Unit: ms. The time limit of a web call whose line sets none; undefined: none. */
  maxCallDurationMs?: number;
}

/** Callbacks from the page: each a one-row campaign (src/tokens/callback-endpoint.ts). */
export interface WebCallbackConfig {
  /** The outbound trunk by name; undefined: callbacks are off. */
  trunk?: string;
  /** The agent that calls back by default. */
  agent: string;
  /** Requests per client address per hour. */
  ratePerAddressPerHour: number;
  /** Requests per user per hour. */
  ratePerUserPerHour: number;
  /** Callbacks to one number in any 24 hours. */
  perNumberPerDay: number;
  /** The do-not-call list file, read on every request; undefined: none. */
  doNotCallFile?: string;
  /** Where each callback's campaign state is kept. */
  campaignsDir: string;
}

/** Where call records go: always a local file (or its spool), and a signed webhook when set. */
export interface RecordsConfig {
  dir: string;
  /** Unit: days. Record files are removed once every record in them is older (call-records/retention.ts). */
  retentionDays: number;
  webhook?: { url: string; secret: string; spoolDir: string };
}

export interface WorkerConfig {
  /** Percent of the machine's cores the worker's own processes may use before it declines calls. */
  maxCpuPercent: number;
  healthPort: number;
  drainTimeoutMs: number;
  busyGraceMs: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** LiveKit Cloud's worker token, passed through to the framework. */
  workerToken?: string;
}

/**
 * The configuration from `env`. `machine` (the cores and memory this process may use, read from
 * the host and its cgroup by default) sizes the worker when AGENT_MAX_CALLS is unset.
 */
export function parseConfig(
  env: Record<string, string | undefined>,
  machine: MachineResources = machineResources(),
): Readonly<Config> {
  const parsed = EnvSchema.safeParse(env);
  const capacity = capacityOf(env, machine);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...crossFieldProblems(env, capacity),
  ];
  if (!parsed.success || capacity === undefined || problems.length > 0) throw configError(problems);
  const e = parsed.data;
  const layout = localStackLayout(e.SWITCHBOARD_NETWORK);

  let livekit: LivekitConfig;
  if (e.LIVEKIT_URL === undefined) {
    livekit = {
      url: localLivekitUrl(layout),
      apiKey: e.LIVEKIT_API_KEY ?? LOCAL_API_KEY,
      apiSecret: e.LIVEKIT_API_SECRET ?? LOCAL_API_SECRET,
      isLocalStack: true,
    };
  } else {
    livekit = {
      url: e.LIVEKIT_URL,
      apiKey: e.LIVEKIT_API_KEY ?? '',
      apiSecret: e.LIVEKIT_API_SECRET ?? '',
      isLocalStack: false,
    };
  }

  const models: ModelProvider =
    e.OPENAI_API_KEY !== undefined
      ? {
          kind: 'openai',
          apiKey: e.OPENAI_API_KEY,
          ...(e.OPENAI_BASE_URL === undefined ? {} : { baseUrl: e.OPENAI_BASE_URL }),
          llmModel: e.OPENAI_LLM_MODEL,
          sttModel: e.OPENAI_STT_MODEL,
          ttsModel: e.OPENAI_TTS_MODEL,
          ttsVoice: e.OPENAI_TTS_VOICE,
        }
      : { kind: 'offline', baseUrl: e.SWITCHBOARD_SPEECH_URL ?? localSpeechUrl(layout) };

  return Object.freeze({
    network: e.SWITCHBOARD_NETWORK,
    livekit,
    ...(e.LIVEKIT_AGENT_NAME === undefined ? {} : { agentName: e.LIVEKIT_AGENT_NAME }),
    webAgents: e.WEB_AGENTS as [string, ...string[]],
    models,
    callRecordsDir: e.CALL_RECORDS_DIR,
    records: {
      dir: e.CALL_RECORDS_DIR,
      retentionDays: e.CALL_RECORDS_RETENTION_DAYS,
      ...(e.CALL_RECORDS_WEBHOOK_URL === undefined
        ? {}
        : {
            webhook: {
              url: e.CALL_RECORDS_WEBHOOK_URL,
              secret: e.CALL_RECORDS_WEBHOOK_SECRET ?? '',
              spoolDir: e.CALL_RECORDS_SPOOL_DIR ?? join(e.CALL_RECORDS_DIR, 'spool'),
            },
          }),
    },
    ...(e.WEB_PORT === undefined ? {} : { webPort: e.WEB_PORT }),
    idleProcesses: e.AGENT_IDLE_PROCESSES,
    spareProcessHoldMs: e.AGENT_SPARE_PROCESS_HOLD_MS,
    jobMemory: {
      semiSpaceMb: e.AGENT_JOB_SEMI_SPACE_MB,
      ...(e.MALLOC_ARENA_MAX === undefined && e.AGENT_JOB_MALLOC_ARENAS > 0
        ? { mallocArenas: e.AGENT_JOB_MALLOC_ARENAS }
        : {}),
    },
    maxConcurrentCalls: capacity.maxCalls,
    capacity,
    phoneReservedCalls:
      e.AGENT_PHONE_RESERVED_CALLS ??
      Math.min(Math.ceil(capacity.maxCalls / 5), capacity.maxCalls - 1),
    web: {
      ...(e.WEB_AUTH_MODULE === undefined ? {} : { authModule: e.WEB_AUTH_MODULE }),
      ...(e.WEB_ALLOWED_ORIGINS === undefined ? {} : { allowedOrigins: e.WEB_ALLOWED_ORIGINS }),
      tokenTtlSeconds: e.WEB_TOKEN_TTL_SECONDS,
      tokenRatePerAddressPerMinute: e.WEB_TOKEN_RATE_PER_ADDRESS_PER_MINUTE,
      tokenRatePerUserPerMinute: e.WEB_TOKEN_RATE_PER_USER_PER_MINUTE,
      maxCallsPerUser: e.WEB_MAX_CALLS_PER_USER,
      ...(e.WEB_MAX_CALL_DURATION_MS === 0
        ? {}
        : { maxCallDurationMs: e.WEB_MAX_CALL_DURATION_MS }),
    },
    webCallback: {
      ...(e.WEB_CALLBACK_TRUNK === undefined ? {} : { trunk: e.WEB_CALLBACK_TRUNK }),
      agent: e.WEB_CALLBACK_AGENT ?? e.WEB_AGENTS[0] ?? 'switchboard',
      ratePerAddressPerHour: e.WEB_CALLBACK_RATE_PER_ADDRESS_PER_HOUR,
      ratePerUserPerHour: e.WEB_CALLBACK_RATE_PER_USER_PER_HOUR,
      perNumberPerDay: e.WEB_CALLBACK_PER_NUMBER_PER_DAY,
      ...(e.WEB_CALLBACK_DNC_FILE === undefined ? {} : { doNotCallFile: e.WEB_CALLBACK_DNC_FILE }),
      campaignsDir: e.WEB_CALLBACK_CAMPAIGNS_DIR,
    },
    worker: {
      maxCpuPercent: e.AGENT_MAX_CPU_PERCENT,
      healthPort: e.AGENT_HEALTH_PORT,
      drainTimeoutMs: e.AGENT_DRAIN_TIMEOUT_MS,
      busyGraceMs: e.AGENT_BUSY_GRACE_MS,
      logLevel: e.LOG_LEVEL,
      ...(e.LIVEKIT_WORKER_TOKEN === undefined ? {} : { workerToken: e.LIVEKIT_WORKER_TOKEN }),
    },
    agentHttp: {
      host: livekit.isLocalStack ? layout.serviceIp : '0.0.0.0',
      ...(e.AGENT_HTTP_PORT === undefined ? {} : { port: e.AGENT_HTTP_PORT }),
    },
  });
}

function configError(problems: string[]): SwitchboardError {
  return new SwitchboardError(
    'config_invalid',
    `Invalid configuration in the environment:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
      'Fix these variables (see docs/agent.md "Configuration") and start again.',
  );
}

/**
 * Reads the process environment; the only place that does. A `.env.local` in the working
 * directory is read first, as LiveKit's templates do (Node's own parser): what the environment
 * already sets wins over the file.
 */
export function loadConfig(envFile = ENV_FILE): Readonly<Config> {
  if (existsSync(envFile)) {
    try {
      process.loadEnvFile(envFile);
    } catch (err) {
      throw new SwitchboardError(
        'config_invalid',
        `Could not read ${envFile} (${(err as Error).message}). Fix or remove the file; .env.example lists every variable.`,
        { cause: err },
      );
    }
  }
  return parseConfig(process.env);
}

/**
 * The environment the worker's forked processes inherit, written for what they must be given as
 * they start (src/worker/job-process-memory.ts); configuration is read only by loadConfig.
 */
export function inheritedEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

/** Read by loadConfig when present; never committed (.gitignore), see .env.example. */
export const ENV_FILE = '.env.local';
