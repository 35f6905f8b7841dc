/**
 * A paced campaign on the real stack (issue 14): `npm run campaign`'s process dials a 20-row list
 * through two outbound trunks whose callees are SIPp (one answers every call and hangs up after a
 * 10 s, one answers 486 Busy). Counted at the callees, from SIPp's own message trace: never
 * more than 3 calls at once, busy rows dialled once per attempt (2 attempts), and, after the
 * campaign process is killed with SIGKILL in the middle and started again, no number dialled more
 * often than it had attempts. Rows on the do-not-call list and rows outside their calling hours
 * are never dialled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/campaigns/store.js';
import { runSippHuman } from '../support/sipp-human.js';
import { writeSilenceUlaw } from '../support/sipp.js';
import { eventually, layout, roomClient, sipClient } from '../support/stack-env.js';

const ANSWER_TRUNK = 'e2e-campaign';
const BUSY_TRUNK = 'e2e-campaign-busy';
const ANSWER_PORT = 5082;
const BUSY_PORT = 5084;
const CONCURRENCY = 3;
const NAME = 'e2e-kill';

let dir: string;
const trunkIds: string[] = [];

const number = (i: number) => `+1555016${String(i).padStart(4, '0')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-campaign-'));
  for (const [name, port] of [
    [ANSWER_TRUNK, ANSWER_PORT],
    [BUSY_TRUNK, BUSY_PORT],
  ] as const) {
    const trunk = await sipClient().createSipOutboundTrunk(name, `${layout.serviceIp}:${port}`, [
      '+15550000066',
    ]);
    trunkIds.push(trunk.sipTrunkId);
  }
});

afterAll(async () => {
  for (const id of trunkIds) await sipClient().deleteSipTrunk(id);
  await rm(dir, { recursive: true, force: true });
});

/** HH:MM of a UTC time `offsetMin` from now: a window around now in UTC. */
function utcClock(offsetMin: number): string {
  const d = new Date(Date.now() + offsetMin * 60_000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

interface TracedCall {
  callId: string;
  /** The called number, from the INVITE's Request-URI. */
  number: string;
  startMs: number;
  endMs: number;
}

/** Each call a SIPp UAS saw, from INVITE to its end (BYE either way, or a final error sent). */
function tracedCalls(trace: string): TracedCall[] {
  const calls = new Map<string, TracedCall>();
  const blocks = trace.split(/^-{10,} (?=\d{4}-\d\d-\d\d )/m);
  for (const block of blocks) {
    const head = /^(\S+ \S+)\s*\n\s*UDP message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/.exec(block);
    if (head?.[1] === undefined || head[3] === undefined) continue;
    const at = new Date(head[1].replace(' ', 'T')).getTime();
    const text = head[3];
    const callId = /^Call-ID:\s*(\S+)/im.exec(text)?.[1];
    if (callId === undefined) continue;
    const start = text.split(/\r?\n/)[0] ?? '';
    const invite = /^INVITE sip:(\+?\d+)@/.exec(start);
    if (head[2] === 'received' && invite?.[1] !== undefined && !calls.has(callId)) {
      calls.set(callId, { callId, number: invite[1], startMs: at, endMs: Infinity });
      continue;
    }
    const call = calls.get(callId);
    if (call === undefined) continue;
    const ends = /^BYE /.test(start) || (head[2] === 'sent' && /^SIP\/2\.0 [3-6]\d\d/.test(start));
    if (ends) call.endMs = Math.min(call.endMs, at);
  }
  return [...calls.values()];
}

/** The most calls under way at one instant. */
function maxConcurrent(calls: TracedCall[]): number {
  const events = calls.flatMap((c) => [
    { at: c.startMs, delta: 1 },
    { at: c.endMs, delta: -1 },
  ]);
  // Ends before starts at the same instant: a call that ends as another starts is not overlap.
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.delta));
  return max;
}

function campaignProcess(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/campaigns/main.ts', ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('a paced campaign', () => {
  it(
    'never more than 3 calls at once at the callees; busy retried once; SIGKILL mid-way and a rerun dial no attempt twice; DNC and closed-hours rows never dialled',
    { timeout: 300_000 },
    async () => {
      // 20 rows: 15 answered, 2 busy (their own trunk), 1 do-not-call, 1 outside its calling
      // hours (UTC-12 while the window is the two hours around now in UTC), 1 more answered.
      const rows = Array.from({ length: 20 }, (_, k) => {
        const i = k + 1;
        const row: Record<string, unknown> = {
          id: `r${String(i).padStart(2, '0')}`,
          number: number(i),
          // Detection off: the outcome is the answer itself, so the calls stay short.
          callOptions: { outbound: { answeringMachine: { enabled: false } } },
        };
        if (i === 16 || i === 17) row.trunk = BUSY_TRUNK;
        if (i === 19) row.timezone = 'Etc/GMT+12';
        return row;
      });
      const list = join(dir, 'list.jsonl');
      await writeFile(list, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const dnc = join(dir, 'dnc.txt');
      await writeFile(dnc, `# never call\n${number(18)}\n`);
      const state = join(dir, 'state');
      const args = [
        'run',
        list,
        '--name',
        NAME,
        '--dir',
        state,
        '--agent',
        'switchboard',
        '--trunk',
        ANSWER_TRUNK,
        '--concurrency',
        String(CONCURRENCY),
        '--rate',
        '4',
        '--window',
        `${utcClock(-60)}-${utcClock(60)}`,
        '--timezone',
        'UTC',
        '--until',
        new Date(Date.now() + 240_000).toISOString(),
        '--dnc',
        dnc,
        '--max-attempts',
        '2',
        '--retry-delay-ms',
        '2000',
      ];

      const stopCallees = new AbortController();
      const silence = await writeSilenceUlaw(dir);
      const callee = (behaviour: 'answer' | 'busy', sipPort: number, media: number) =>
        runSippHuman(
          {
            behaviour,
            localIp: layout.serviceIp,
            sipPort,
            mediaPort: media,
            recordPort: media + 100,
            mediaFile: silence,
            ringMs: 300,
            // Long enough for calls to overlap: a job process takes seconds to start under load.
            ...(behaviour === 'answer' ? { hangUpAfterMs: 10_000 } : {}),
            timeoutMs: 240_000,
            calls: 100,
          },
          stopCallees.signal,
        );
      const answering = callee('answer', ANSWER_PORT, 23300);
      const busy = callee('busy', BUSY_PORT, 23400);

      // First run: killed with SIGKILL once a few attempts have results.
      const first = campaignProcess(args);
      const firstExit = exited(first);
      await eventually(
        'five attempts with a result',
        async () => {
          const results = await readFile(join(state, NAME, 'results.jsonl'), 'utf8').catch(
            () => '',
          );
          return results.split('\n').filter((l) => l.trim() !== '').length >= 5;
        },
        120_000,
      );
      first.kill('SIGKILL');
      expect(await firstExit).toBeNull();

      // Second run: resumes and finishes.
      const second = campaignProcess(args);
      let output = '';
      second.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      second.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      expect(await exited(second), output).toBe(0);
      // The last calls hang up 10 s after their answer.
      await new Promise((r) => setTimeout(r, 12_000));
      stopCallees.abort();
      const calls = [
        ...tracedCalls((await answering).messages),
        ...tracedCalls((await busy).messages),
      ];

      // At the callees: never more than the cap at once.
      expect(maxConcurrent(calls)).toBeGreaterThanOrEqual(2);
      expect(maxConcurrent(calls)).toBeLessThanOrEqual(CONCURRENCY);
      const dialled = new Map<string, number>();
      for (const c of calls) dialled.set(c.number, (dialled.get(c.number) ?? 0) + 1);
      // Never dialled: the do-not-call row and the row outside its calling hours.
      expect(dialled.get(number(18))).toBeUndefined();
      expect(dialled.get(number(19))).toBeUndefined();

      // Each number dialled at most once per attempt the journal started; exactly once per
      // attempt that has an outcome (an attempt cut by the kill may or may not have rung).
      const { entries } = await readJournal(join(state, NAME));
      const started = new Map<string, number>();
      const decided = new Map<string, number>();
      const rowNumber = new Map(rows.map((r) => [r.id as string, r.number as string]));
      for (const e of entries) {
        if (e.type !== 'started' && e.type !== 'outcome') continue;
        const n = rowNumber.get(e.rowId) ?? '';
        if (e.type === 'started') started.set(n, (started.get(n) ?? 0) + 1);
        else decided.set(n, (decided.get(n) ?? 0) + 1);
      }
      for (const [n, count] of dialled) {
        expect(count, `INVITEs for ${n.slice(-4)}`).toBeLessThanOrEqual(started.get(n) ?? 0);
        expect(count, `INVITEs for ${n.slice(-4)}`).toBeGreaterThanOrEqual(decided.get(n) ?? 0);
      }
      // The busy rows: two attempts each (max-attempts 2), both dialled, unless the kill cut one.
      for (const i of [16, 17]) expect(dialled.get(number(i)) ?? 0).toBeLessThanOrEqual(2);
      expect(
        (dialled.get(number(16)) ?? 0) + (dialled.get(number(17)) ?? 0),
      ).toBeGreaterThanOrEqual(3);
      // Every other row was dialled (once), bar at most the attempts the kill interrupted.
      const interrupted = entries.filter((e) => e.type === 'interrupted').length;
      const answeredRows = [...Array(20).keys()]
        .map((k) => k + 1)
        .filter((i) => ![16, 17, 18, 19].includes(i));
      // What the journal says of a row not dialled once, so that a failure here names the cause.
      const notOnce = answeredRows
        .filter((i) => dialled.get(number(i)) !== 1)
        .map((i) => {
          const id = `r${String(i).padStart(2, '0')}`;
          const said = entries
            .filter((e) => 'rowId' in e && e.rowId === id)
            .map((e) => ('result' in e ? `${e.type} ${e.result} (${e.detail})` : e.type));
          return `${id}: ${dialled.get(number(i)) ?? 0} INVITE(s); ${said.join(', ')}`;
        });
      expect(
        answeredRows.length - notOnce.length,
        `rows dialled once; the others: ${notOnce.join('; ')}`,
      ).toBeGreaterThanOrEqual(answeredRows.length - interrupted);
      expect(answeredRows.every((i) => (dialled.get(number(i)) ?? 0) <= 1)).toBe(true);
      // Every call's room is gone.
      await eventually('no campaign room left', async () =>
        (await roomClient().listRooms()).every((r) => !r.name.startsWith('call-out-')),
      );
      // The status names the rows that were never dialled and why.
      // The kill came with calls up (three seats, eleven rows left): the rerun held their seats.
      expect(output).toMatch(/call\(s\) an earlier run placed are still up/);
      expect(output).toMatch(/do_not_call/);
      expect(output).toMatch(/deferred|outside_calling_hours/);
    },
  );
});
