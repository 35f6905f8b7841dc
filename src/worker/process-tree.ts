import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/**
 * The worker's own processes as Linux reports them: the worker and every process below it (its
 * job processes, and whatever they start). Read from /proc, so on a host shared with
 * livekit-server and livekit-sip only this worker's CPU and memory are counted.
 */
export interface ProcessStat {
  pid: number;
  ppid: number;
  /** User plus system CPU time since the process started. */
  cpuMs: number;
  rssBytes: number;
}

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const TICK_MS = 10;
const PAGE_BYTES = 4096;

/** Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcessStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name, numbered from 3 (state) as in proc(5).
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const ppid = field(4);
  const utime = field(14);
  const stime = field(15);
  const rssPages = field(24);
  if (![pid, ppid, utime, stime, rssPages].every(Number.isFinite)) return undefined;
  return { pid, ppid, cpuMs: (utime + stime) * TICK_MS, rssBytes: rssPages * PAGE_BYTES };
}

/** `root` and every process below it, from one snapshot of all processes. */
export function processTree(rootPid: number, all: readonly ProcessStat[]): ProcessStat[] {
  const children = new Map<number, ProcessStat[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const root = all.find((p) => p.pid === rootPid);
  if (root === undefined) return [];
  const tree: ProcessStat[] = [];
  const queue = [root];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    tree.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return tree;
}

/** Reads the process tree under `rootPid` from /proc; empty where there is no /proc (macOS). */
export async function readProcessTree(rootPid: number): Promise<ProcessStat[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const stats = await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        try {
          return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return undefined; // exited while we read
        }
      }),
  );
  return processTree(
    rootPid,
    stats.filter((s): s is ProcessStat => s !== undefined),
  );
}

/**
 * When process `pid` started (field 22 of /proc/<pid>/stat, clock ticks since boot), which tells
 * a process from a later one that got its pid; undefined when it is gone, a zombie, or there is
 * no /proc.
 */
export function processStartTicks(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text
    .slice(text.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); a zombie has exited, only its entry is left.
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[22 - 3];
}

/**
 * Whether process `pid` still runs, and is the one that started at `startTicks` when given.
 * Without /proc (macOS) only the pid is checked.
 */
export function processAlive(pid: number, startTicks?: string): boolean {
  if (existsSync('/proc/self/stat')) {
    const ticks = processStartTicks(pid);
    return ticks !== undefined && (startTicks === undefined || ticks === startTicks);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
