import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Processes the stack starts, tracked by pid plus the kernel's start time, so `down` ends only
 * the processes it started: a pid reused by an unrelated process never matches.
 */
export interface ProcessRecord {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  startTicks: string;
  argv: string[];
  log: string;
}

export function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are space-separated.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isAlive(p: Pick<ProcessRecord, 'pid' | 'startTicks'>): boolean {
  return startTicks(p.pid) === p.startTicks;
}

export function startDetached(
  name: string,
  argv: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): ProcessRecord {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error(`no command for ${name}`);
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`${name}: failed to start ${cmd}`);
    child.unref();
    const ticks = startTicks(child.pid);
    if (ticks === undefined) throw new Error(`${name} exited at once; see ${logFile}`);
    return { name, pid: child.pid, startTicks: ticks, argv, log: logFile };
  } finally {
    closeSync(fd);
  }
}

/**
 * The environment `p` was started with (/proc/<pid>/environ), or undefined once it has exited or
 * cannot be read. A restart reuses it, so the new process gets what `up` gave the old one rather
 * than the environment of whoever asks for the restart (a test runner's variables).
 */
export function startEnv(p: ProcessRecord): NodeJS.ProcessEnv | undefined {
  if (!isAlive(p)) return undefined;
  let raw: string;
  try {
    raw = readFileSync(`/proc/${p.pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  // Checked again after the read: had the pid been reused in between, this would be another
  // process's environment.
  return isAlive(p) ? parseEnviron(raw) : undefined;
}

/** NUL-separated NAME=value pairs, as /proc/<pid>/environ holds them; a value may contain '='. */
export function parseEnviron(raw: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Signals the process, waits for it to exit, and kills it (by pid) if it does not. */
export async function stopProcess(
  p: ProcessRecord,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isAlive(p)) return 'gone';
  process.kill(p.pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(p)) return 'stopped';
    await sleep(100);
  }
  if (isAlive(p)) process.kill(p.pid, 'SIGKILL');
  while (isAlive(p)) await sleep(50);
  return 'killed';
}
