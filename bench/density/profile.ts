/**
 * A CPU profile of one job process under load, taken through the V8 inspector while its call
 * runs, and a summary of where its JavaScript thread spent the time.
 *
 * Why not `node --cpu-prof`: @livekit/agents 1.9.0 forks each job process with
 * `fork(job_proc_lazy_main, [agent], isTypeScript ? { execArgv: process.execArgv } : undefined)`
 * (ipc/job_proc_executor.js); for the compiled worker the options are undefined, and Node's
 * fork() then defaults execArgv to the parent's process.execArgv, so `--cpu-prof` on the worker
 * would reach every job process. But it profiles each of them for its whole life (prewarm and
 * model loading included), slows every call of the run, and writes only at a normal exit. Here
 * one job process is profiled for a few seconds after the last measurement window: SIGUSR1 opens
 * its inspector (Node's default, 127.0.0.1:9229 in the stack's network namespace), the
 * Profiler domain samples its main thread every millisecond, and the profile is written as a
 * .cpuprofile (Chrome DevTools, speedscope). The inspector stays open, on loopback, until the job
 * process exits at the end of its call.
 *
 * A V8 profile shows the main thread only: native work on other threads (onnxruntime's, the
 * LiveKit FFI's tokio runtime) is not in it; the benchmark reports those threads' CPU from
 * /proc/<pid>/task separately. Native work called synchronously from JavaScript is counted in
 * the JavaScript function that called it.
 */
import { WebSocket, type RawData } from 'ws';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

/** The Profiler domain's Profile (Chrome DevTools protocol); times in µs. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** Of the profile's duration, 0..1. */
  share: number;
}

export interface ProfileSummary {
  durationMs: number;
  /** Self time by where the code comes from: an npm package, Node's built-ins, this package, V8's own entries. */
  byOrigin: ProfileShare[];
  /** The functions with the most self time. */
  topFunctions: (ProfileShare & { where: string })[];
}

/** Where a profiled function's code comes from. */
export function codeOrigin(callFrame: { functionName: string; url: string }): string {
  const { functionName, url } = callFrame;
  // V8's own entries: (garbage collector), (idle), (program), (root).
  if (url === '' && functionName.startsWith('(')) return functionName;
  if (url.startsWith('node:')) return 'Node built-ins (node:*)';
  const pkg = [...url.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].at(-1)?.[1];
  if (pkg !== undefined) return pkg;
  if (/\/(dist\/)?(src|agents)\//.test(url)) return 'switchboard (this package)';
  return url === '' ? '(native or unnamed)' : 'other';
}

/** Self time per node, from the samples when present, otherwise from hit counts. */
function selfTimesMs(profile: CpuProfile): Map<number, number> {
  const out = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  if (samples !== undefined && timeDeltas !== undefined && samples.length === timeDeltas.length) {
    // timeDeltas[i] is the time from the previous sample to sample i: the time until the next
    // sample is attributed to the node sampled.
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i];
      const dt = timeDeltas[i + 1] ?? 0;
      if (id !== undefined) out.set(id, (out.get(id) ?? 0) + Math.max(0, dt) / 1000);
    }
    return out;
  }
  const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
  const perHitMs = hits === 0 ? 0 : (profile.endTime - profile.startTime) / 1000 / hits;
  for (const n of profile.nodes) out.set(n.id, (n.hitCount ?? 0) * perHitMs);
  return out;
}

export function summarizeCpuProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const durationMs = Math.max(0, (profile.endTime - profile.startTime) / 1000);
  const self = selfTimesMs(profile);
  const byOrigin = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; ms: number }>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    const origin = codeOrigin(node.callFrame);
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + ms);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const where = url === '' ? origin : `${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const f = byFunction.get(key) ?? { name, where, ms: 0 };
    f.ms += ms;
    byFunction.set(key, f);
  }
  const share = (ms: number) => (durationMs === 0 ? 0 : ms / durationMs);
  return {
    durationMs,
    byOrigin: [...byOrigin]
      .map(([name, ms]) => ({ name, ms, share: share(ms) }))
      .sort((a, b) => b.ms - a.ms),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ ...f, share: share(f.ms) })),
  };
}

const INSPECTOR = 'http://127.0.0.1:9229';

/**
 * Opens the inspector of process `pid` (SIGUSR1), checks that the inspector answering on
 * 127.0.0.1:9229 is that process's, samples its main thread for `ms` and returns the profile.
 */
export async function profileProcess(pid: number, ms: number): Promise<CpuProfile> {
  process.kill(pid, 'SIGUSR1');
  let url: string | undefined;
  const deadline = Date.now() + 10_000;
  while (url === undefined) {
    try {
      const targets = (await (await fetch(`${INSPECTOR}/json/list`)).json()) as {
        webSocketDebuggerUrl?: string;
      }[];
      url = targets[0]?.webSocketDebuggerUrl;
    } catch {
      // not listening yet
    }
    if (url === undefined) {
      if (Date.now() > deadline) throw new Error(`no inspector on ${INSPECTOR} for pid ${pid}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on('message', (data: RawData) => {
    const buf = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    const msg = JSON.parse(buf.toString('utf8')) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (msg.id === undefined) return; // an event
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error !== undefined) waiter?.reject(new Error(msg.error.message));
    else waiter?.resolve(msg.result);
  });
  ws.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('the inspector closed'));
    pending.clear();
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    const evaluated = (await send('Runtime.evaluate', {
      expression: 'process.pid',
      returnByValue: true,
    })) as { result?: { value?: unknown } };
    if (evaluated.result?.value !== pid)
      throw new Error(
        `the inspector on ${INSPECTOR} belongs to pid ${String(evaluated.result?.value)}, not ${pid}`,
      );
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 1000 });
    await send('Profiler.start');
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = (await send('Profiler.stop')) as { profile: CpuProfile };
    await send('Profiler.disable');
    return profile;
  } finally {
    ws.close();
  }
}
