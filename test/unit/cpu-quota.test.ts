import { describe, expect, it } from 'vitest';
import { effectiveCpus, parseCfsQuota, parseCpuMax } from '../../src/worker/cpu-quota.js';

describe('the CPUs a worker may use', () => {
  it.each<[string | undefined, number | undefined]>([
    ['max 100000\n', undefined],
    ['150000 100000\n', 1.5],
    ['50000 100000', 0.5],
    ['', undefined],
    [undefined, undefined],
    ['garbage', undefined],
  ])('cgroup v2 cpu.max %j -> %s CPUs', (text, cpus) => {
    expect(parseCpuMax(text)).toBe(cpus);
  });

  it.each<[string | undefined, string | undefined, number | undefined]>([
    ['-1\n', '100000\n', undefined],
    ['200000\n', '100000\n', 2],
    [undefined, '100000', undefined],
  ])('cgroup v1 quota %j period %j -> %s CPUs', (quota, period, cpus) => {
    expect(parseCfsQuota(quota, period)).toBe(cpus);
  });

  it.each<[string, Record<string, string>, number, number]>([
    ['a quota below the machine caps it', { '/sys/fs/cgroup/cpu.max': '100000 100000' }, 16, 1],
    [
      'a quota above the machine does not raise it',
      { '/sys/fs/cgroup/cpu.max': '800000 100000' },
      2,
      2,
    ],
    ['no quota: the machine', { '/sys/fs/cgroup/cpu.max': 'max 100000' }, 4, 4],
    [
      'cgroup v1',
      {
        '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000',
        '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
      },
      8,
      1.5,
    ],
    ['no cgroup files', {}, 2, 2],
  ])('%s', (_name, files, parallelism, cpus) => {
    expect(effectiveCpus((p) => files[p], parallelism)).toBe(cpus);
  });
});
