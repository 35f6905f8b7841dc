import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cli,
  defineAgent,
  log,
  ServerOptions,
  type AgentDefinition,
  type JobContext,
  type JobProcess,
} from '@livekit/agents';
import { SipClient } from 'livekit-server-sdk';
import { createRecordSink, startRecordRetention } from '../call-records/index.js';
import { TrunkHeaderDirectory } from '../caller/index.js';
import { inheritedEnvironment, loadConfig, type Config } from '../config/index.js';
import { isSwitchboardError, type SwitchboardError } from '../errors/index.js';
import { preflight } from '../livekit/preflight.js';
import { createSpeechModels } from '../models/index.js';
import {
  DevCallCapacity,
  INITIALIZE_PROCESS_TIMEOUT_MS,
  limitJobProcessMemory,
  parseStartArgs,
  redactLogger,
  runProductionWorker,
  spareProcessHold,
  startOrphanRecovery,
} from '../worker/index.js';
import { validateAgentDefinition, type CallAgentDefinition } from './definition.js';
import { prepareProcess } from './prewarm.js';
import { runCall, type CallRuntime } from './run-call.js';

/** An agents-js agent (`export default` it) that also knows its definition. */
export interface CallAgent extends AgentDefinition {
  readonly definition: CallAgentDefinition;
  /** Why the definition cannot run; `runAgentWorker` reports it and exits before registering. */
  readonly problem?: SwitchboardError;
}

/** The name a worker registers under: LIVEKIT_AGENT_NAME, else the definition's. */
export function registeredName(
  def: CallAgentDefinition,
  config: Pick<Config, 'agentName'>,
): string {
  return config.agentName ?? def.name;
}

/**
 * Builds the agents-js agent for a definition: `export default defineCallAgent({...})`. The job
 * process prewarms (VAD, greetings), and each call runs the package's call life cycle around the
 * definition's persona. An incomplete definition is reported at start by `runAgentWorker`, naming
 * every missing or invalid part.
 */
export function defineCallAgent(definition: CallAgentDefinition): CallAgent {
  let problem: SwitchboardError | undefined;
  let def = definition;
  try {
    def = validateAgentDefinition(definition);
  } catch (err) {
    // Reported by runAgentWorker as one line, like every other start-up error; a job process
    // (only reached when the worker ran without that check) fails its prewarm with it.
    if (!isSwitchboardError(err)) throw err;
    problem = err;
  }
  // Per process: configuration is read from the environment once, on first use.
  let runtime: CallRuntime | undefined;
  const runtimeFor = (): CallRuntime => {
    if (runtime !== undefined) return runtime;
    const config = loadConfig();
    runtime = {
      def,
      config,
      agentName: registeredName(def, config),
      models: def.models ?? (() => createSpeechModels(config.models)),
      trunkHeaders: new TrunkHeaderDirectory(
        new SipClient(config.livekit.url, config.livekit.apiKey, config.livekit.apiSecret),
      ),
      records: createRecordSink(config.records, {
        // Call ID, outcome, attempts and status only: the reports carry no numbers or transcripts.
        onDelivery: (report) =>
          report.outcome === 'delivered'
            ? log().debug({ ...report }, 'call record delivered to the webhook')
            : log().warn({ ...report }, 'call record not delivered to the webhook'),
        onResendError: (err) => log().warn({ err }, 'resending spooled call records failed'),
      }),
    };
    return runtime;
  };
  const agent = defineAgent({
    prewarm: (proc: JobProcess) => {
      // The framework initialised this job process's logger just before prewarm.
      redactProcessLogs();
      if (problem !== undefined) throw problem;
      return prepareProcess(proc, def, runtimeFor().models);
    },
    entry: (ctx: JobContext) => {
      if (problem !== undefined) throw problem;
      return runCall(ctx, runtimeFor());
    },
  });
  return Object.assign(agent, { definition: def, ...(problem === undefined ? {} : { problem }) });
}

/**
 * The worker's command line, for the agent file that is run (`node agent.js dev|start|connect`):
 * does nothing when the file is only imported (as every job process imports it). Checks the
 * environment, LiveKit and the record sink first and exits with one message naming the fix.
 *
 *   start   the production worker: capacity, drain on SIGTERM, GET /health (src/worker)
 *   other   the agents CLI (dev, connect, console)
 */
export async function runAgentWorker(agent: CallAgent, moduleUrl: string): Promise<void> {
  const file = fileURLToPath(moduleUrl);
  if (!isMainModule(file)) return;
  try {
    if (agent.problem !== undefined) throw agent.problem;
    const config = loadConfig();
    const agentName = registeredName(agent.definition, config);
    await preflight(config);
    await createRecordSink(config.records).preflight();
    const models = agent.definition.models?.() ?? createSpeechModels(config.models);
    console.log(models.description ?? `models: ${models.llm?.label() ?? 'no LLM'}`);
    await models.tts.close();
    if (process.argv[2] === 'start') {
      await runProductionWorker({
        agentFile: file,
        agentName,
        config,
        ...parseStartArgs(process.argv.slice(3), config.worker.logLevel),
      });
      return;
    }
    limitJobProcessMemory(config.jobMemory, process.execArgv, inheritedEnvironment());
    const callAccepted = spareProcessHold(config.spareProcessHoldMs);
    const capacity = new DevCallCapacity(config.maxConcurrentCalls);
    cli.runApp(
      new ServerOptions({
        agent: file,
        agentName,
        wsURL: config.livekit.url,
        apiKey: config.livekit.apiKey,
        apiSecret: config.livekit.apiSecret,
        numIdleProcesses: config.idleProcesses,
        requestFunc: async (req) => {
          if (!capacity.take()) {
            // The server offers it to another worker; with none, the call is not answered.
            log().warn(
              { maxCalls: config.maxConcurrentCalls },
              'declining a call: this worker is at AGENT_MAX_CALLS',
            );
            await req.reject();
            return;
          }
          callAccepted();
          await req.accept();
        },
        // The framework's 10 s limit restarted prewarming processes during calls on a busy host.
        initializeProcessTimeout: INITIALIZE_PROCESS_TIMEOUT_MS,
        // Full at maxConcurrentCalls, in development too (the framework's dev default is no
        // limit), decided per call: reported loads stay below 1 (see DevCallCapacity).
        loadFunc: capacity.load,
        loadThreshold: 1,
        host: config.agentHttp.host,
        ...(config.agentHttp.port === undefined ? {} : { port: config.agentHttp.port }),
      }),
    );
    // The CLI's command has initialised the framework's logger by now (synchronously); without
    // one, no worker runs (help, version) and there is nothing to look after.
    if (redactProcessLogs()) {
      startRecordRetention(config.records, {
        onPruned: (files) =>
          log().info({ files }, 'removed call record files past their retention'),
        onError: (err) => log().warn({ err }, 'removing old call record files failed'),
      });
      // As the production worker does: calls whose job process died are hung up and recorded.
      startOrphanRecovery({
        recordsDir: config.records.dir,
        records: createRecordSink(config.records),
        livekit: config.livekit,
        onRecovered: (call) =>
          log().warn({ ...call }, 'a job process died during its call; hung up and recorded'),
        onError: (err) => log().warn({ err }, 'could not recover the calls of dead job processes'),
      });
    }
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    console.error(`error [${err.code}]: ${err.message}`);
    process.exit(1);
  }
}

/**
 * Phone numbers out of this process's log lines (src/worker/log-redaction.ts). False: the
 * framework has no logger in this process yet.
 */
function redactProcessLogs(): boolean {
  let logger: ReturnType<typeof log>;
  try {
    logger = log();
  } catch {
    return false;
  }
  if (!redactLogger(logger))
    logger.warn('could not redact phone numbers in the logs of this process');
  return true;
}

function isMainModule(file: string): boolean {
  const main = process.argv[1];
  if (main === undefined) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(main) === real(file);
}
