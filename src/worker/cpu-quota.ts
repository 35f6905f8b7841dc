import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The CPUs this process may use: the machine's, capped by the container's CPU quota.
 * `availableParallelism()` counts the host's CPUs (or the cpuset), not a quota: a container limited
 * to one CPU on a 16-core host would size its calls for 16. Reads cgroup v2 `cpu.max`, else
 * cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`.
 */
export function effectiveCpus(
  read: (path: string) => string | undefined = readOrUndefined,
  parallelism: number = availableParallelism(),
): number {
  const quota =
    parseCpuMax(read('/sys/fs/cgroup/cpu.max')) ??
    parseCfsQuota(
      read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ??
        read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us'),
      read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ??
        read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us'),
    );
  return quota === undefined ? parallelism : Math.min(parallelism, quota);
}

/** cgroup v2 `cpu.max`: "<quota> <period>" in µs, or "max <period>" for no limit. */
export function parseCpuMax(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  return ratio(quota, period);
}

/** cgroup v1: quota -1 means no limit. */
export function parseCfsQuota(
  quota: string | undefined,
  period: string | undefined,
): number | undefined {
  return ratio(quota?.trim(), period?.trim());
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

/** A cgroup file's text; undefined where there is none (no such controller, not Linux). */
export function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
