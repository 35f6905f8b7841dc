/**
 * What the density benchmark reads from /proc about the worker under test: memory as PSS (each
 * shared page split among the processes that map it, so a tree's sum counts the code and models
 * its processes share once, where RSS counts them once per process), CPU time by process and by
 * thread, and the whole machine's CPU. The parsers are pure (test/unit/density-pss.test.ts); the
 * readers use the asynchronous fs calls, so a read that the kernel makes slow (smaps_rollup walks
 * page tables) does not stall the benchmark's event loop, which timestamps the RTP packets.
 */
import { readdir, readFile } from 'node:fs/promises';
import { parseProcStat, readProcessTree, type ProcessStat } from '../../src/worker/process-tree.js';

/** /proc/<pid>/smaps_rollup (Linux 4.14+), in kB as the kernel reports it. */
export interface SmapsRollup {
  rssKb: number;
  pssKb: number;
  /** Split of Pss by kind of page (Linux 5.7+); undefined on older kernels. */
  pssAnonKb?: number;
  pssFileKb?: number;
  pssShmemKb?: number;
  /** Swapped-out pages, shared the same way (not part of Pss). */
  swapPssKb?: number;
}

/** Parses /proc/<pid>/smaps_rollup; undefined when it has no Rss or Pss line. */
export function parseSmapsRollup(text: string): SmapsRollup | undefined {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) kb.set(m[1], Number(m[2]));
  }
  const rssKb = kb.get('Rss');
  const pssKb = kb.get('Pss');
  if (rssKb === undefined || pssKb === undefined) return undefined;
  return {
    rssKb,
    pssKb,
    pssAnonKb: kb.get('Pss_Anon'),
    pssFileKb: kb.get('Pss_File'),
    pssShmemKb: kb.get('Pss_Shmem'),
    swapPssKb: kb.get('SwapPss'),
  };
}

/**
 * One process's PSS by where it comes from, from /proc/<pid>/smaps, in kB:
 * - `v8PagesKb`: anonymous mappings of exactly 256 KiB, V8's heap page (young and old generation;
 *   large objects get mappings of their own size and count as `otherAnonKb`);
 * - `brkKb`: `[heap]`, glibc's main malloc arena (the main thread's native allocations);
 * - `otherAnonKb`: every other anonymous mapping: glibc's arenas of the other threads, thread
 *   stacks, V8's large objects and code space;
 * - `fileKb`: mapped files (code, shared libraries, models) and the rest.
 */
export interface PssBreakdown {
  pssKb: number;
  v8PagesKb: number;
  brkKb: number;
  otherAnonKb: number;
  fileKb: number;
}

const V8_PAGE_KB = 256;

/** Parses /proc/<pid>/smaps; undefined when it lists no mapping. */
export function parsePssBreakdown(text: string): PssBreakdown | undefined {
  const b: PssBreakdown = { pssKb: 0, v8PagesKb: 0, brkKb: 0, otherAnonKb: 0, fileKb: 0 };
  let mapping: { sizeKb: number; name: string } | undefined;
  let mappings = 0;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      const sizeKb = Number((BigInt(`0x${head[2]}`) - BigInt(`0x${head[1]}`)) / 1024n);
      mapping = { sizeKb, name: head[3]?.trim() ?? '' };
      mappings++;
      continue;
    }
    const pss = /^Pss:\s+(\d+) kB/.exec(line);
    if (pss === null || mapping === undefined) continue;
    const kb = Number(pss[1]);
    b.pssKb += kb;
    if (mapping.name === '[heap]') b.brkKb += kb;
    else if (mapping.name === '' && mapping.sizeKb === V8_PAGE_KB) b.v8PagesKb += kb;
    else if (mapping.name === '') b.otherAnonKb += kb;
    else b.fileKb += kb;
  }
  return mappings === 0 ? undefined : b;
}

export async function readPssBreakdown(pid: number): Promise<PssBreakdown | undefined> {
  const text = await readOptional(`/proc/${pid}/smaps`);
  return text === undefined ? undefined : parsePssBreakdown(text);
}

/** The first line of /proc/stat: the machine's CPU time, in USER_HZ ticks, over all cores. */
export interface MachineCpu {
  busyTicks: number;
  totalTicks: number;
}

/**
 * Parses /proc/stat's `cpu` line (user nice system idle iowait irq softirq steal guest
 * guest_nice). Guest time is already inside user and nice, so only the first eight count; idle
 * and iowait are not busy.
 */
export function parseMachineCpu(text: string): MachineCpu | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || !f.every(Number.isFinite)) return undefined;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busyTicks: total - idle, totalTicks: total };
}

/** Share of the machine's CPU (0..1, all cores) used between two readings of /proc/stat. */
export function machineBusyBetween(prev: MachineCpu, next: MachineCpu): number {
  const total = next.totalTicks - prev.totalTicks;
  return total <= 0 ? 0 : Math.min(1, Math.max(0, (next.busyTicks - prev.busyTicks) / total));
}

/** One thread, from /proc/<pid>/task/<tid>/stat. */
export interface ThreadStat {
  tid: number;
  /** The thread's name (comm, at most 15 characters): "node", "libuv-worker", "tokio-runtime-w"... */
  name: string;
  cpuMs: number;
}

export function parseThreadStat(text: string): ThreadStat | undefined {
  const stat = parseProcStat(text);
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (stat === undefined || open < 0 || close < open) return undefined;
  return { tid: stat.pid, name: text.slice(open + 1, close), cpuMs: stat.cpuMs };
}

/**
 * CPU time used between two snapshots, by id (pid or tid). An id only in `next` started in
 * between: all its time counts. One whose time went down is a reused id: a new process, all its
 * time counts. One that ended in between is missing its last interval (undercounted).
 */
export function cpuMsBetween(
  prev: ReadonlyMap<number, number>,
  next: ReadonlyMap<number, number>,
): Map<number, number> {
  const used = new Map<number, number>();
  for (const [id, cpuMs] of next) {
    const before = prev.get(id);
    used.set(id, before === undefined || cpuMs < before ? cpuMs : cpuMs - before);
  }
  return used;
}

/**
 * Threads grouped the way a reader can act on: the process's main thread (where its JavaScript
 * runs) apart from the other threads that kept Node's default name "node" (native libraries'
 * own pools, onnxruntime's among them, unless they name their threads), and numbered names
 * folded together.
 */
export function threadGroup(thread: Pick<ThreadStat, 'tid' | 'name'>, pid: number): string {
  if (thread.tid === pid) return 'main thread (JavaScript, event loop)';
  if (thread.name === 'node') return 'unnamed native threads ("node")';
  return thread.name.replace(/[\s\d-]+$/, '') || thread.name;
}

/** What a process of the worker's tree is, from its command line. */
export type ProcessKind = 'worker' | 'job process' | 'inference process' | 'other';

export function processKind(cmdline: string, isRoot: boolean): ProcessKind {
  if (isRoot) return 'worker';
  if (cmdline.includes('job_proc_lazy_main')) return 'job process';
  if (cmdline.includes('inference_proc_lazy_main')) return 'inference process';
  return 'other';
}

// --- readers ---------------------------------------------------------------------------------

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined; // the process or thread exited while we read
  }
}

export interface TreeProcess extends ProcessStat {
  kind: ProcessKind;
}

/** The worker and every process below it, with what each is. */
export async function readTree(rootPid: number): Promise<TreeProcess[]> {
  const tree = await readProcessTree(rootPid);
  return Promise.all(
    tree.map(async (p) => ({
      ...p,
      kind: processKind(
        (await readOptional(`/proc/${p.pid}/cmdline`))?.replaceAll('\0', ' ') ?? '',
        p.pid === rootPid,
      ),
    })),
  );
}

/** PSS summed over `pids`, in kB, and how many of them could be read. */
export async function readPssKb(pids: readonly number[]): Promise<{ pssKb: number; read: number }> {
  const rollups = await Promise.all(
    pids.map(async (pid) => {
      const text = await readOptional(`/proc/${pid}/smaps_rollup`);
      return text === undefined ? undefined : parseSmapsRollup(text);
    }),
  );
  const ok = rollups.filter((r): r is SmapsRollup => r !== undefined);
  return { pssKb: ok.reduce((sum, r) => sum + r.pssKb, 0), read: ok.length };
}

export async function readMachineCpu(): Promise<MachineCpu | undefined> {
  const text = await readOptional('/proc/stat');
  return text === undefined ? undefined : parseMachineCpu(text);
}

export async function readThreads(pid: number): Promise<ThreadStat[]> {
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const stats = await Promise.all(
    tids.map(async (tid) => {
      const text = await readOptional(`/proc/${pid}/task/${tid}/stat`);
      return text === undefined ? undefined : parseThreadStat(text);
    }),
  );
  return stats.filter((s): s is ThreadStat => s !== undefined);
}
