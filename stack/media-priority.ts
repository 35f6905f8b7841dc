import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * livekit-sip runs at real-time round-robin priority (SCHED_RR), as Asterisk's `-p` and
 * FreeSWITCH's `-rp` run their media. Its mixer sends the caller a 20 ms packet on every tick;
 * on a 2-core host shared with the agent's job processes, its threads waited for a core for up
 * to 200 ms at two or three calls (gaps in the RTP at the caller, timed by the kernel in a packet
 * capture, mostly on several callers' streams at once). At this priority the longest gap at
 * three calls was 60-63 ms (bench/RESULTS.md, "Density on a slower host, and livekit-sip at
 * real-time priority").
 *
 * 10 of 1-99: above every ordinary process, below the kernel's own real-time threads. The
 * kernel's real-time throttling (sched_rt_runtime_us, 95 % of each second by default) still
 * leaves the rest of the host a share if it ever spun.
 */
export const MEDIA_REALTIME_PRIORITY = 10;

export interface MediaPriority {
  /** Put before a service's argv: runs it at real-time priority. Empty where that is refused. */
  prefix: string[];
  /** Why it is not used, when it is not. */
  refused?: string;
}

let probed: Promise<MediaPriority> | undefined;

/**
 * Whether this host lets the stack start a process at real-time priority (root, or
 * CAP_SYS_NICE, and a cgroup with real-time runtime); asked once per process.
 */
export function mediaPriority(): Promise<MediaPriority> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<MediaPriority> {
  const prefix = ['chrt', '--rr', String(MEDIA_REALTIME_PRIORITY)];
  try {
    await run('chrt', [...prefix.slice(1), 'true']);
    return { prefix };
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    return { prefix: [], refused: detail };
  }
}
