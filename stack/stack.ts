import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localStackLayout, type LocalStackLayout, type NetworkMode } from '../src/config/index.js';
import { SwitchboardError } from '../src/errors/index.js';
import { waitUntil } from './health.js';
import { mediaPriority } from './media-priority.js';
import {
  addNamespaceAddress,
  createNamespace,
  deleteNamespace,
  inNetwork,
  namespaceExists,
  namespacePids,
  removeNamespaceAddress,
} from './network.js';
import { LOG_DIR, REDIS_DATA_DIR, STATE_FILE } from './paths.js';
import { isAlive, startDetached, startEnv, stopProcess, type ProcessRecord } from './processes.js';
import { insideNamespace, stackServices, type ServiceSpec } from './services.js';
import { clearState, readState, writeState, type StackState } from './state.js';
import { stackNode, stackNodes } from './topology.js';
import { ensureTurnCertificate } from './turn-certificate.js';

export type Reporter = (line: string) => void;

/** How long a service may take to exit on its stop signal before it is killed. */
const STOP_GRACE_MS = 10_000;

export interface ServiceStatus {
  name: string;
  pid?: number;
  running: boolean;
  ready: boolean;
  log?: string;
}

/**
 * Brings the stack up with `nodes` LiveKit nodes (default 1); returns false when it was already up
 * (nothing started). A stack already up keeps its nodes, or is scaled to `nodes` when given.
 */
export async function up(mode: NetworkMode, report: Reporter, nodes?: number): Promise<boolean> {
  const layout = localStackLayout(mode);
  // Validated before anything starts.
  const topology = stackNodes(layout, nodes ?? 1);
  const existing = await readState();
  if (existing !== undefined) {
    if (existing.mode !== mode) {
      throw new SwitchboardError(
        'stack_owned_elsewhere',
        `The stack is already up in ${existing.mode} mode. Take it down first: npm run stack -- down`,
      );
    }
    if (existing.services.every(isAlive)) {
      if (nodes === undefined || existing.nodes === nodes) report('stack is already up');
      else await scaleNodes(nodes, report);
      return false;
    }
    report('some stack processes have exited; restarting the stack');
    await down(report);
  }

  await mkdir(LOG_DIR, { recursive: true });
  const state: StackState = { mode, nodes: topology.length, services: [] };
  try {
    if (layout.mode === 'netns' && layout.namespace !== undefined) {
      if (await namespaceExists(layout.namespace)) {
        const pids = await namespacePids(layout.namespace);
        if (pids.length > 0) {
          throw new SwitchboardError(
            'stack_owned_elsewhere',
            `Network namespace ${layout.namespace} already exists with processes this checkout did not start (pids ${pids.join(', ')}). Stop that stack from its own checkout (npm run stack -- down), or end those processes yourself, then try again.`,
          );
        }
        report(`reusing the empty network namespace ${layout.namespace} left by an earlier run`);
      } else {
        await createNamespace(layout);
        report(
          `network namespace ${layout.namespace}: ${layout.serviceIp} (host end ${layout.hostIp ?? ''})`,
        );
      }
      state.createdNamespace = layout.namespace;
      await writeState(state);
      for (const node of topology.slice(1)) await addNamespaceAddress(layout, node.ip);
    }
    // Emptied here, after an earlier run's recorded processes were stopped and before Redis
    // starts: a new run starts without the last run's trunks and rules, while `restart redis`
    // within a run reads them back.
    await rm(REDIS_DATA_DIR, { recursive: true, force: true });
    await mkdir(REDIS_DATA_DIR, { recursive: true });
    if (layout.mode === 'netns') {
      const turn = await ensureTurnCertificate();
      report(`TURN certificate for ${turn.domain}: ${turn.certFile}`);
    }
    const priority = await mediaPriority();
    if (priority.refused !== undefined)
      report(
        `livekit-sip runs at normal priority: real-time priority was refused (${priority.refused}); under load its RTP to callers may break up. Run the stack as root, or give it CAP_SYS_NICE.`,
      );
    for (const service of await stackServices(layout, topology.length)) {
      await startService(layout, service, state, report);
    }
  } catch (err) {
    report('start failed; stopping what was started');
    await down(() => undefined);
    throw err;
  }
  return true;
}

/** Starts one service, records it in `state` (saved at once), and waits for its ready check. */
async function startService(
  layout: LocalStackLayout,
  service: ServiceSpec,
  state: StackState,
  report: Reporter,
): Promise<void> {
  const log = join(LOG_DIR, `${service.name}.log`);
  const record = startDetached(
    service.name,
    service.hostNetwork === true ? service.argv : inNetwork(layout, service.argv),
    log,
  );
  state.services.push(record);
  await writeState(state);
  const ready = await waitUntil(
    async () => isAlive(record) && (await service.ready()),
    service.readyTimeoutMs,
  );
  if (!ready) throw await notReady(service.name, record, service.readyTimeoutMs);
  report(`${service.name} ready (pid ${record.pid})`);
}

/**
 * Adds or removes LiveKit nodes of the running stack until it has `nodes`: a new node gets its
 * address, its livekit-server and its livekit-sip, each ready before the next starts; a removed
 * node's livekit-sip and livekit-server are stopped (their stop signals: livekit-server leaves
 * the cluster, livekit-sip ends its calls) and its address deleted. Node 1 always stays. Works
 * from inside the stack's namespace too, as `restartService` does, so a test can scale the stack
 * it runs in.
 */
export async function scaleNodes(nodes: number, report: Reporter = () => undefined): Promise<void> {
  const state = await readState();
  if (state === undefined) throw stackNotUp();
  const layout = localStackLayout(state.mode);
  stackNodes(layout, nodes);
  if (layout.mode === 'netns' && process.getuid?.() !== 0) {
    throw new SwitchboardError(
      'stack_needs_root',
      'Adding or removing LiveKit nodes needs root, as starting the stack does (ip netns exec). Run it as root (or with sudo).',
    );
  }
  for (let index = state.nodes + 1; index <= nodes; index++) {
    const node = stackNode(layout, index);
    await addNamespaceAddress(layout, node.ip);
    const all = await stackServices(layout, index);
    try {
      for (const name of [node.serverName, node.sipName]) {
        const service = all.find((s) => s.name === name);
        if (service === undefined) throw new Error(`no service ${name}`);
        await startService(layout, service, state, report);
      }
    } catch (err) {
      report(`node ${index} did not start; stopping what was started of it`);
      await removeNode(state, index, () => undefined);
      throw err;
    }
    state.nodes = index;
    await writeState(state);
    report(`node ${index} is up at ${node.ip}`);
  }
  for (let index = state.nodes; index > nodes; index--) {
    await removeNode(state, index, report);
    state.nodes = index - 1;
    await writeState(state);
  }
}

/** Stops node `index`'s services that `state` records, drops them from it, deletes its address. */
async function removeNode(state: StackState, index: number, report: Reporter): Promise<void> {
  const layout = localStackLayout(state.mode);
  const node = stackNode(layout, index);
  // Their own stop signals, as `down` uses: livekit-sip in reverse start order first.
  const specs = new Map((await stackServices(layout, index)).map((s) => [s.name, s]));
  for (const name of [node.sipName, node.serverName]) {
    const record = state.services.find((s) => s.name === name);
    if (record === undefined) continue;
    const signal = specs.get(name)?.stopSignal ?? 'SIGTERM';
    report(`${name}: ${await stopProcess(record, signal, STOP_GRACE_MS)}`);
    state.services = state.services.filter((s) => s !== record);
    await writeState(state);
  }
  await removeNamespaceAddress(layout, node.ip);
  report(`node ${index} removed`);
}

/** Ends the processes the stack started (by pid), then deletes the namespace it created. */
export async function down(report: Reporter): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    report('stack is not running');
    return;
  }
  const layout = localStackLayout(state.mode);
  const specs = new Map((await stackServices(layout, state.nodes)).map((s) => [s.name, s]));
  for (const record of [...state.services].reverse()) {
    const result = await stopProcess(
      record,
      specs.get(record.name)?.stopSignal ?? 'SIGTERM',
      STOP_GRACE_MS,
    );
    report(`${record.name}: ${result}`);
  }
  if (state.createdNamespace !== undefined) {
    await deleteNamespace(layout);
    report(`network namespace ${state.createdNamespace} deleted`);
  }
  await clearState();
}

export async function status(): Promise<{
  mode?: NetworkMode;
  nodes?: number;
  services: ServiceStatus[];
}> {
  const state = await readState();
  if (state === undefined) return { services: [] };
  const layout: LocalStackLayout = localStackLayout(state.mode);
  const specs = new Map((await stackServices(layout, state.nodes)).map((s) => [s.name, s]));
  const services: ServiceStatus[] = [];
  for (const record of state.services as ProcessRecord[]) {
    const running = isAlive(record);
    const ready = running && ((await specs.get(record.name)?.ready()) ?? false);
    services.push({ name: record.name, pid: record.pid, running, ready, log: record.log });
  }
  return { mode: state.mode, nodes: state.nodes, services };
}

/** How `restartService` stops a service and how long it keeps it down. */
export interface RestartOptions {
  /** SIGKILL instead of the service's own stop signal: a crash rather than a shutdown. */
  kill: boolean;
  /** Milliseconds the service stays down between the old process's exit and the new start. */
  downForMs: number;
}

export const DEFAULT_RESTART_OPTIONS: RestartOptions = { kill: false, downForMs: 0 };

export interface RestartResult {
  name: string;
  previousPid: number;
  /** How the old process ended; 'gone' when it had already exited before the restart. */
  stopped: 'stopped' | 'killed' | 'gone';
  pid: number;
  /** From the stop signal until the new process passed its ready check (includes downForMs). */
  downMs: number;
}

/**
 * Stops one service of the running stack by its recorded pid and starts it again with the same
 * argv and log file (appended to), then waits for its ready check. Services that depend on it are
 * left alone: whether they recover is what a fault-injection test wants to see.
 *
 * Works from inside the stack's namespace too (tests run there): a namespaced service's recorded
 * argv starts with `ip netns exec <ns>`, and run as root from inside that same namespace it
 * enters the named namespace again, which is the one it is already in (setns to the namespace
 * file `ip netns add` created, not "one level deeper"). Only a host-network service cannot be
 * restarted from there: it would start in the namespace instead.
 */
export async function restartService(
  name: string,
  options: Partial<RestartOptions> = {},
  report: Reporter = () => undefined,
): Promise<RestartResult> {
  const opts: RestartOptions = { ...DEFAULT_RESTART_OPTIONS, ...options };
  const state = await readState();
  if (state === undefined) throw stackNotUp();
  const record = findServiceRecord(state, name);
  const layout = localStackLayout(state.mode);
  const spec = (await stackServices(layout, state.nodes)).find((s) => s.name === name);
  if (spec === undefined) {
    throw new SwitchboardError(
      'stack_owned_elsewhere',
      `The running stack has a service "${name}" that this checkout's stack/services.ts does not define, so it has no ready check to wait for. Restart the whole stack: npm run stack -- down, then npm run stack -- up`,
    );
  }
  // Checked before anything is stopped: `ip netns exec` needs root, and a failed start would
  // leave the service down.
  if (layout.mode === 'netns' && process.getuid?.() !== 0) {
    throw new SwitchboardError(
      'stack_needs_root',
      `Restarting ${name} needs root, as starting the stack does (ip netns exec). Run it as root (or with sudo).`,
    );
  }
  if (
    spec.hostNetwork === true &&
    layout.namespace !== undefined &&
    (await insideNamespace(layout.namespace))
  ) {
    throw new SwitchboardError(
      'stack_start_failed',
      `${name} runs in the host's network, and this process runs inside the namespace ${layout.namespace}, where it would start instead. Restart it from the host: npm run stack -- restart ${name}`,
    );
  }

  const env = startEnv(record);
  const signal = opts.kill ? 'SIGKILL' : spec.stopSignal;
  const stoppingAt = Date.now();
  const stopped = await stopProcess(record, signal, STOP_GRACE_MS);
  report(`${name}: ${stopped} (pid ${record.pid}, ${signal})`);
  if (opts.downForMs > 0) {
    report(`${name}: down for ${opts.downForMs} ms`);
    await sleep(opts.downForMs);
  }
  // The log is appended to: mark where the old process's lines end and the new one's begin.
  await appendFile(
    record.log,
    `\n[stack] ${new Date().toISOString()} restart of ${name}: pid ${record.pid} ${stopped} (${signal})\n`,
  );
  if (env === undefined) {
    report(`${name}: its start environment was unreadable; starting it with this one`);
  }
  const next = startDetached(name, record.argv, record.log, env);

  // Re-read rather than reuse `state`: another restart may have updated a different record.
  const latest = await readState();
  if (latest === undefined) {
    await stopProcess(next, spec.stopSignal, STOP_GRACE_MS);
    throw new SwitchboardError(
      'stack_not_running',
      `The stack was taken down while ${name} was restarting; the new ${name} was stopped again. Start the stack: npm run stack -- up`,
    );
  }
  await writeState(withServiceRecord(latest, next));

  const ready = await waitUntil(
    async () => isAlive(next) && (await spec.ready()),
    spec.readyTimeoutMs,
  );
  if (!ready) throw await notReady(name, next, spec.readyTimeoutMs);
  const downMs = Date.now() - stoppingAt;
  report(`${name} ready again (pid ${next.pid}, down ${downMs} ms)`);
  return { name, previousPid: record.pid, stopped, pid: next.pid, downMs };
}

/** The record of one service of the running stack (pid, argv, log). */
export async function runningServiceRecord(name: string): Promise<ProcessRecord> {
  const state = await readState();
  if (state === undefined) throw stackNotUp();
  return findServiceRecord(state, name);
}

export function findServiceRecord(state: StackState, name: string): ProcessRecord {
  const record = state.services.find((s) => s.name === name);
  if (record === undefined) {
    const known = state.services.map((s) => s.name);
    throw new SwitchboardError(
      'stack_not_running',
      `The running stack has no service "${name}"; its services are ${known.join(', ') || '(none)'}. Example: npm run stack -- restart ${known[0] ?? 'redis'}`,
    );
  }
  return record;
}

/** `state` with the record of the same name replaced by `record`. */
export function withServiceRecord(state: StackState, record: ProcessRecord): StackState {
  return {
    ...state,
    services: state.services.map((s) => (s.name === record.name ? record : s)),
  };
}

export const RESTART_USAGE = 'usage: npm run stack -- restart <service> [--kill] [--down-ms N]';

export type RestartArgs =
  { ok: true; name: string; options: RestartOptions } | { ok: false; error: string };

/** The arguments after `restart`: `<service> [--kill] [--down-ms N | --down-ms=N]`. */
export function parseRestartArgs(args: readonly string[]): RestartArgs {
  const options: RestartOptions = { ...DEFAULT_RESTART_OPTIONS };
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--kill') {
      options.kill = true;
    } else if (arg === '--down-ms' || arg.startsWith('--down-ms=')) {
      const value = arg === '--down-ms' ? args[++i] : arg.slice('--down-ms='.length);
      if (value === undefined || !/^\d+$/.test(value)) {
        return {
          ok: false,
          error: `--down-ms needs a whole number of milliseconds, not "${value ?? ''}"`,
        };
      }
      options.downForMs = Number(value);
    } else if (arg.startsWith('-')) {
      return { ok: false, error: `unknown option ${arg}` };
    } else {
      names.push(arg);
    }
  }
  const [name, ...extra] = names;
  if (name === undefined)
    return { ok: false, error: 'which service? (npm run stack -- status lists them)' };
  if (extra.length > 0)
    return { ok: false, error: `one service at a time, not ${names.join(', ')}` };
  return { ok: true, name, options };
}

function stackNotUp(): SwitchboardError {
  return new SwitchboardError(
    'stack_not_running',
    `The local stack is not up (no ${STATE_FILE}). Start it: npm run stack -- up`,
  );
}

async function notReady(
  name: string,
  record: ProcessRecord,
  timeoutMs: number,
): Promise<SwitchboardError> {
  const tail = (await readFile(record.log, 'utf8').catch(() => ''))
    .split('\n')
    .slice(-15)
    .join('\n');
  return new SwitchboardError(
    'stack_start_failed',
    `${name} did not become ready within ${timeoutMs / 1000} s (${isAlive(record) ? 'still running' : 'exited'}). Last lines of ${record.log}:\n${tail}`,
  );
}
