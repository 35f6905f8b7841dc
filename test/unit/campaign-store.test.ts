/**
 * Campaign state on disk: files 0600, a torn last line skipped, started attempts found
 * interrupted, the lock; a real campaign process killed with SIGKILL mid-way and run again dials
 * no number twice; `campaign status` and the CLI's refusals before anything is dialled.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCampaignCommand } from '../../src/campaigns/cli.js';
import type { JournalEntry, ResultLine } from '../../src/campaigns/journal.js';
import { campaignStatus, renderStatus } from '../../src/campaigns/status.js';
import {
  CampaignStore,
  JOURNAL_FILE,
  readJournal,
  RESULTS_FILE,
} from '../../src/campaigns/store.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let tmp: string;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campaign-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const run = (rows: string[]): JournalEntry => ({
  type: 'run',
  atMs: 0,
  pid: 1,
  listFile: 'l.csv',
  listDigest: 'd',
  hasIds: false,
  rows: rows.map((id) => ({ id, masked: `*******${id}${id}`, trunk: 't' })),
  skipped: [],
  maxAttempts: 2,
  retryDelayMs: 1_000,
  retryBackoff: 1,
  maxRetryDelayMs: 1_000,
});
const line = (e: unknown) => `${JSON.stringify(e)}\n`;

describe('the file store', () => {
  it('keeps its files 0600 in a 0700 directory, every entry readable back', async () => {
    const dir = join(tmp, 'c');
    const store = await CampaignStore.open(dir, 'c', 5);
    await store.append(run(['1']));
    await store.append({ type: 'started', atMs: 6, rowId: '1', attempt: 1, trunk: 't' });
    await store.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, RESULTS_FILE))).mode & 0o777).toBe(0o600);
    expect((await readJournal(dir)).entries.map((e) => e.type)).toEqual(['run', 'started']);
  });

  it('skips and cuts off a torn last line, and closes started attempts as interrupted', async () => {
    const dir = join(tmp, 'c');
    const store = await CampaignStore.open(dir, 'c', 0);
    await store.close();
    await appendFile(
      join(dir, JOURNAL_FILE),
      line(run(['1', '2'])) +
        line({ type: 'started', atMs: 1, rowId: '1', attempt: 1, trunk: 't' }) +
        line({
          type: 'outcome',
          atMs: 2,
          rowId: '1',
          attempt: 1,
          result: 'answered',
          detail: 'answered',
        }) +
        line({ type: 'started', atMs: 3, rowId: '2', attempt: 1, trunk: 't' }) +
        '{"type":"outcome","atMs":4,"rowId":"2","att',
    );
    const reopened = await CampaignStore.open(dir, 'c', 100);
    expect(reopened.entries.slice(-1)).toEqual([
      expect.objectContaining({ type: 'interrupted', rowId: '2', attempt: 1, atMs: 100 }),
    ]);
    await reopened.append({ type: 'finished', atMs: 101 });
    await reopened.close();
    // The torn bytes are gone: the next entry starts on a line of its own.
    const text = await readFile(join(dir, JOURNAL_FILE), 'utf8');
    expect(text).not.toContain('"att{');
    expect((await readJournal(dir)).entries.map((e) => e.type)).toEqual([
      'run',
      'started',
      'outcome',
      'started',
      'interrupted',
      'finished',
    ]);
    // One result line per attempt, written from the journal where the kill lost it.
    const results = (await readFile(join(dir, RESULTS_FILE), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ResultLine);
    expect(results.map((r) => [r.rowId, r.attempt, r.result])).toEqual([
      ['1', 1, 'answered'],
      ['2', 1, 'interrupted'],
    ]);
  });

  it('names a broken line in the middle instead of guessing', async () => {
    const dir = join(tmp, 'c');
    await (await CampaignStore.open(dir, 'c', 0)).close();
    await writeFile(
      join(dir, JOURNAL_FILE),
      `${line(run(['1']))}not json\n${line({ type: 'finished', atMs: 1 })}`,
    );
    await expect(CampaignStore.open(dir, 'c', 0)).rejects.toMatchObject({
      code: 'campaign_store_invalid',
      message: expect.stringContaining('broken entry at line 2'),
    });
  });

  it('lets one process at a time run a campaign, and takes over a dead one’s lock', async () => {
    const dir = join(tmp, 'c');
    const store = await CampaignStore.open(dir, 'c', 0);
    await expect(CampaignStore.open(dir, 'c', 0)).rejects.toMatchObject({
      code: 'campaign_state_conflict',
    });
    await store.close();
    await writeFile(join(dir, 'lock'), '999999999\n');
    const again = await CampaignStore.open(dir, 'c', 0);
    await again.close();
  });
});

describe('killed with SIGKILL and run again', () => {
  const script = (dir: string, dials: string) => `
import { fsyncSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCampaignList } from ${JSON.stringify(join(ROOT, 'src/campaigns/list.ts'))};
import { parseCampaignPolicy } from ${JSON.stringify(join(ROOT, 'src/campaigns/policy.ts'))};
import { runCampaign } from ${JSON.stringify(join(ROOT, 'src/campaigns/runner.ts'))};
import { CampaignStore } from ${JSON.stringify(join(ROOT, 'src/campaigns/store.ts'))};
const list = parseCampaignList(['number', ...Array.from({ length: 20 }, (_, i) => '+1555020' + String(i).padStart(4, '0'))].join('\\n'), 'csv', 'l.csv');
const store = await CampaignStore.open(${JSON.stringify(dir)}, 'kill', Date.now());
const fd = openSync(${JSON.stringify(dials)}, 'a');
const dialer = {
  async place(request) {
    // The callee's side: every INVITE counted, durably, as it arrives.
    writeSync(fd, request.to + '\\n');
    fsyncSync(fd);
    const outcome = sleep(40).then(() => ({ result: 'answered', detail: 'answered' }));
    return { room: 'r', outcome, ended: outcome.then(() => sleep(40)), hangUp: async () => {} };
  },
  // The killed run's calls ended with it.
  async untilOver() {},
  async callsUp() { return []; },
};
const result = await runCampaign({ list, policy: parseCampaignPolicy({ trunk: 't', concurrency: 3, rate: 50 }), store, dialer });
await store.close();
console.log(JSON.stringify(result.status.counts));
`;

  function start(file: string) {
    return spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async function dialled(file: string): Promise<string[]> {
    return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
  }

  it('dials no number twice, and finishes the rest', async () => {
    const dir = join(tmp, 'kill');
    const dials = join(tmp, 'dials.log');
    const file = join(tmp, 'campaign.mts');
    await writeFile(file, script(dir, dials));

    const first = start(file);
    const exited = new Promise((done) => first.on('exit', done));
    for (let i = 0; i < 400 && (await dialled(dials)).length < 7; i++)
      await new Promise((r) => setTimeout(r, 25));
    first.kill('SIGKILL');
    await exited;
    const beforeKill = await dialled(dials);
    expect(beforeKill.length).toBeGreaterThanOrEqual(7);
    expect(beforeKill.length).toBeLessThan(20);

    const second = start(file);
    let out = '';
    let err = '';
    second.stdout.on('data', (d: Buffer) => (out += d.toString()));
    second.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((done) => second.on('exit', done));
    expect({ code, err }).toEqual({ code: 0, err: '' });

    const all = await dialled(dials);
    expect(new Set(all).size).toBe(all.length);
    const counts = JSON.parse(out) as Record<string, number>;
    // Every row dialled once, or interrupted by the kill (and then never dialled again).
    expect((counts.answered ?? 0) + (counts.interrupted ?? 0)).toBe(20);
    expect(counts.answered ?? 0).toBeLessThanOrEqual(all.length);
    expect(all.length).toBeGreaterThanOrEqual(20 - (counts.interrupted ?? 0));
  }, 30_000);
});

describe('status', () => {
  const entries: JournalEntry[] = [
    {
      ...run(['1', '2', '3', '4', '5', '6']),
      skipped: [{ rowId: '6', reason: 'do_not_call' }],
    } as JournalEntry,
    { type: 'started', atMs: 1, rowId: '1', attempt: 1, trunk: 't' },
    { type: 'outcome', atMs: 2, rowId: '1', attempt: 1, result: 'answered', detail: 'answered' },
    { type: 'started', atMs: 3, rowId: '2', attempt: 1, trunk: 't' },
    {
      type: 'outcome',
      atMs: 4,
      rowId: '2',
      attempt: 1,
      result: 'busy',
      sipStatus: 486,
      detail: 'busy',
    },
    { type: 'started', atMs: 5, rowId: '3', attempt: 1, trunk: 't' },
    { type: 'outcome', atMs: 6, rowId: '3', attempt: 1, result: 'no_answer', detail: 'no answer' },
    { type: 'started', atMs: 7, rowId: '3', attempt: 2, trunk: 't' },
    { type: 'outcome', atMs: 8, rowId: '3', attempt: 2, result: 'no_answer', detail: 'no answer' },
    { type: 'started', atMs: 9, rowId: '4', attempt: 1, trunk: 't' },
  ];

  it('counts rows per state and attempts', () => {
    const s = campaignStatus('c', entries, 10);
    expect(s.attempts).toBe(5);
    expect(s.counts).toEqual({
      answered: 1,
      retry_pending: 1,
      no_answer: 1,
      in_progress: 1,
      pending: 1,
      do_not_call: 1,
    });
    expect(s.rows[1]).toMatchObject({
      id: '2',
      state: 'retry_pending',
      attempts: 1,
      nextAttemptAtMs: 1_004,
    });
    const text = renderStatus(s, { rows: true });
    expect(text).toContain('campaign c: 6 row(s), 5 attempt(s) over 1 run(s)');
    expect(text).toMatch(/reached\s+1 {2}\(answered 1\)/);
    expect(text).toMatch(/not reached\s+1 {2}\(no_answer 1\)/);
    expect(text).toMatch(/pending\s+3 {2}\(pending 1, retry_pending 1, in_progress 1\)/);
    expect(text).toContain('row 3  *******33  no_answer  attempts 2');
  });

  it('is printed by `campaign status`, with masked numbers only', async () => {
    const base = join(tmp, 'campaigns');
    const list = join(tmp, 'leads.csv');
    await writeFile(list, 'number\n+15550100731\n+15550100742\n');
    const out: string[] = [];
    const err: string[] = [];
    const deps = {
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      dialer: () => ({
        place: async () => {
          const outcome = Promise.resolve({ result: 'answered' as const, detail: 'answered' });
          return { room: 'r', outcome, ended: Promise.resolve(), hangUp: async () => undefined };
        },
        untilOver: async () => undefined,
        callsUp: async () => [],
      }),
    };
    expect(
      await runCampaignCommand(
        ['run', list, '--trunk', 'carrier', '--rate', '100', '--dir', base],
        deps,
      ),
    ).toBe(0);
    out.length = 0;
    expect(await runCampaignCommand(['status', '--rows', '--dir', base], deps)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('campaign leads: 2 row(s), 2 attempt(s) over 1 run(s); finished');
    expect(text).toContain('row 2  **********42  answered  attempts 1');
    expect([...out, ...err].join('\n')).not.toMatch(/5550100731|5550100742/);
    const results = await readFile(join(base, 'leads', RESULTS_FILE), 'utf8');
    expect(results).not.toContain('5550100');
    expect(results.trim().split('\n')).toHaveLength(2);
  });
});

describe('the CLI refuses bad input before anything is dialled', () => {
  const dialerNeverMade = () => {
    throw new Error('the dialer was made: something would have been dialled');
  };

  it.each([
    [
      ['run', 'LIST', '--trunk', 't', '--concurrency', '0'],
      'error [campaign_options_invalid]',
      '--concurrency (concurrency): must be at least 1',
    ],
    [
      ['run', 'LIST', '--trunk', 't', '--rate', '0'],
      'error [campaign_options_invalid]',
      '--rate (rate): must be more than 0',
    ],
    [
      ['run', 'LIST', '--trunk', 't', '--window', '20:00-20:00'],
      'error [campaign_options_invalid]',
      'never opens',
    ],
    [
      ['run', 'LIST', '--trunk', 't', '--until', 'tomorrow'],
      'error [campaign_options_invalid]',
      '--until "tomorrow" is not a time',
    ],
    [
      ['run', 'LIST'],
      'error [campaign_options_invalid]',
      'No outbound trunk for the rows at line(s) 2, 3',
    ],
    [['run', 'BROKEN', '--trunk', 't'], 'error [campaign_list_invalid]', 'line 3, number'],
    [
      ['run', 'LIST', '--trunk', 't', '--dnc', 'MISSING'],
      'error [campaign_options_invalid]',
      'Cannot read the do-not-call list',
    ],
    [['run'], 'error [usage]', 'run takes one list file'],
    [['run', 'LIST', '--concurency', '2'], 'error [usage]', "Unknown option '--concurency'"],
  ])('%j', async (argv, prefix, expected) => {
    const list = join(tmp, 'list.csv');
    const broken = join(tmp, 'broken.csv');
    await writeFile(list, 'number\n+15550101\n+15550102\n');
    await writeFile(broken, 'number\n+15550101\n12\n');
    const args = argv.map((a) =>
      a === 'LIST' ? list : a === 'BROKEN' ? broken : a === 'MISSING' ? join(tmp, 'nope.txt') : a,
    );
    const err: string[] = [];
    const code = await runCampaignCommand([...args, '--dir', join(tmp, 'state')], {
      out: () => undefined,
      err: (t) => err.push(t),
      dialer: dialerNeverMade,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain(prefix);
    expect(err.join('\n')).toContain(expected);
  });
});
