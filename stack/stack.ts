import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localStackLayout, type LocalStackLayout, type NetworkMode } from '../src/config/index.js';
import { SwitchboardError } from '../src/errors/index.js';
import { waitUntil } from './health.js';
import {
  createNamespace,
  deleteNamespace,
  inNetwork,
  namespaceExists,
  namespacePids,
} from './network.js';
import { LOG_DIR } from './paths.js';
import { isAlive, startDetached, stopProcess, type ProcessRecord } from './processes.js';
import { stackServices } from './services.js';
import { clearState, readState, writeState, type StackState } from './state.js';

export type Reporter = (line: string) => void;

export interface ServiceStatus {
  name: string;
  pid?: number;
  running: boolean;
  ready: boolean;
  log?: string;
}

/** Brings the stack up; returns false when it was already up (nothing started). */
export async function up(mode: NetworkMode, report: Reporter): Promise<boolean> {
  const layout = localStackLayout(mode);
  const existing = await readState();
  if (existing !== undefined) {
    if (existing.mode !== mode) {
      throw new SwitchboardError(
        'stack_owned_elsewhere',
        `The stack is already up in ${existing.mode} mode. Take it down first: npm run stack -- down`,
      );
    }
    if (existing.services.every(isAlive)) {
      report('stack is already up');
      return false;
    }
    report('some stack processes have exited; restarting the stack');
    await down(report);
  }

  await mkdir(LOG_DIR, { recursive: true });
  const state: StackState = { mode, services: [] };
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
    }
    for (const service of await stackServices(layout)) {
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
      if (!ready) {
        const tail = (await readFile(log, 'utf8').catch(() => ''))
          .split('\n')
          .slice(-15)
          .join('\n');
        throw new SwitchboardError(
          'stack_start_failed',
          `${service.name} did not become ready within ${service.readyTimeoutMs / 1000} s (${isAlive(record) ? 'still running' : 'exited'}). Last lines of ${log}:\n${tail}`,
        );
      }
      report(`${service.name} ready (pid ${record.pid})`);
    }
  } catch (err) {
    report('start failed; stopping what was started');
    await down(() => undefined);
    throw err;
  }
  return true;
}

/** Ends the processes the stack started (by pid), then deletes the namespace it created. */
export async function down(report: Reporter): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    report('stack is not running');
    return;
  }
  const layout = localStackLayout(state.mode);
  const specs = new Map((await stackServices(layout)).map((s) => [s.name, s]));
  for (const record of [...state.services].reverse()) {
    const result = await stopProcess(
      record,
      specs.get(record.name)?.stopSignal ?? 'SIGTERM',
      10_000,
    );
    report(`${record.name}: ${result}`);
  }
  if (state.createdNamespace !== undefined) {
    await deleteNamespace(layout);
    report(`network namespace ${state.createdNamespace} deleted`);
  }
  await clearState();
}

export async function status(): Promise<{ mode?: NetworkMode; services: ServiceStatus[] }> {
  const state = await readState();
  if (state === undefined) return { services: [] };
  const layout: LocalStackLayout = localStackLayout(state.mode);
  const specs = new Map((await stackServices(layout)).map((s) => [s.name, s]));
  const services: ServiceStatus[] = [];
  for (const record of state.services as ProcessRecord[]) {
    const running = isAlive(record);
    const ready = running && ((await specs.get(record.name)?.ready()) ?? false);
    services.push({ name: record.name, pid: record.pid, running, ready, log: record.log });
  }
  return { mode: state.mode, services };
}
