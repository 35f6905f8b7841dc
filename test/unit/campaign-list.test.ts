/**
 * Campaign input, checked whole before anything is dialled: the list (CSV, JSONL), the
 * do-not-call list, the options, and calling hours in the callee's time zone.
 */
import { describe, expect, it } from 'vitest';
import {
  isWithinWindow,
  msUntilWindowOpens,
  parseCallingWindow,
  type CallingWindow,
} from '../../src/campaigns/calling-hours.js';
import { parseDoNotCallList } from '../../src/campaigns/do-not-call.js';
import { parseCampaignList } from '../../src/campaigns/list.js';
import { parseCampaignPolicy, trunkCapOf } from '../../src/campaigns/policy.js';
import { isSwitchboardError } from '../../src/errors/index.js';

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isSwitchboardError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

describe('campaign list', () => {
  it('reads CSV rows: id, number, time zone, trunk, caller ID, the rest as metadata', () => {
    const list = parseCampaignList(
      'id,Number,timezone,trunk,from,first_name,slot\n' +
        'r1,+1 (555) 010-0001,America/New_York,sales,+15550999,Ann,"Tue, 10:00"\n' +
        'r2,0044 20 7946 0000,,,,Bob,\n',
      'csv',
      'list.csv',
    );
    expect(list.hasIds).toBe(true);
    expect(list.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(list.rows).toEqual([
      {
        id: 'r1',
        line: 2,
        number: '+15550100001',
        timezone: 'America/New_York',
        trunk: 'sales',
        from: '+15550999',
        metadata: { first_name: 'Ann', slot: 'Tue, 10:00' },
      },
      { id: 'r2', line: 3, number: '+442079460000', metadata: { first_name: 'Bob' } },
    ]);
  });

  it('numbers rows by position when there is no id column', () => {
    const list = parseCampaignList('number\n+15550101\n\n+15550102\n', 'csv', 'l.csv');
    expect(list.hasIds).toBe(false);
    expect(list.rows.map((r) => [r.id, r.line])).toEqual([
      ['1', 2],
      ['2', 4],
    ]);
  });

  it('names every broken row by line and field, without the numbers, before anything is dialled', () => {
    const { code, message } = errorOf(() =>
      parseCampaignList(
        'number,timezone,trunk\n' +
          '+15550101,Europe/Paris,sales\n' +
          '5550102,,\n' +
          '+15550103,Mars/Olympus,\n' +
          '+15550104,UTC\n' +
          ',UTC,\n' +
          '+15550106,UTC,bad trunk!\n' +
          '+15550107,"multi\nline",x,extra\n',
        'csv',
        'broken.csv',
      ),
    );
    expect(code).toBe('campaign_list_invalid');
    expect(message).toContain('broken.csv has 6 problem(s) in 6 line(s); nothing was dialled');
    expect(message).toContain('line 3, number: *****02 is not a phone number; write it in E.164');
    expect(message).toContain('line 4, timezone: "Mars/Olympus" is not an IANA time zone');
    expect(message).toContain('line 5: has 2 fields, the header has 3');
    expect(message).toContain('line 6, number: missing');
    expect(message).toContain('line 7, trunk: "bad trunk!" is not a trunk name');
    expect(message).toContain('line 8: has 4 fields');
    expect(message).not.toContain('5550102');
  });

  it.each([
    ['no number column', 'phone\n+15550101\n', 'line 1, number: the header has no "number" column'],
    ['a header only', 'number\n', 'line 1: the list has no rows to call'],
    ['an unclosed quote', 'number\n"+15550101\n', 'line 2: not valid CSV'],
    [
      'a repeated id',
      'id,number\na,+15550101\na,+15550102\n',
      'line 3, id: "a" is also the id of line 2',
    ],
    [
      'an id on some rows only',
      'id,number\na,+15550101\n,+15550102\n',
      'line 3, id: some rows have an id',
    ],
  ])('rejects a CSV with %s', (_, text, expected) => {
    expect(errorOf(() => parseCampaignList(text, 'csv', 'l.csv')).message).toContain(expected);
  });

  it('reads JSONL with metadata and call options, and names broken lines', () => {
    const list = parseCampaignList(
      '{"id": 7, "number": "+15550101", "metadata": {"name": "Ann"}, "topic": "renewal", "callOptions": {"maxCallDurationMs": 120000}}\n',
      'jsonl',
      'l.jsonl',
    );
    expect(list.rows[0]).toEqual({
      id: '7',
      line: 1,
      number: '+15550101',
      metadata: { name: 'Ann', topic: 'renewal' },
      callOptions: { maxCallDurationMs: 120000 },
    });
    const { message } = errorOf(() =>
      parseCampaignList(
        '{"number": "+15550101"}\n{"number": +1}\n[1]\n{"number": "+15550104", "callOptions": {"maxCallDurationMS": 1}}\n{"number": "+15550105", "timezone": 3}\n',
        'jsonl',
        'l.jsonl',
      ),
    );
    expect(message).toContain('line 2: not JSON');
    expect(message).toContain('line 3: not a JSON object');
    expect(message).toContain(
      'line 4, callOptions.maxCallDurationMS: "maxCallDurationMS" is not a call option; did you mean "maxCallDurationMs"?',
    );
    expect(message).toContain('line 5, timezone: must be a string');
  });

  it('marks a number listed twice: the first row is dialled, the later one points at it', () => {
    const list = parseCampaignList(
      'id,number\na,+15550101\nb,+1 555 0102\nc,+15550101\n',
      'csv',
      'l.csv',
    );
    expect(list.rows.map((r) => r.duplicateOf)).toEqual([undefined, undefined, 'a']);
  });
});

describe('do-not-call list', () => {
  it('reads one number per line, with comments, a header and CSV exports', () => {
    const set = parseDoNotCallList(
      'number\n+15550101\n# opted out 2026-01\n+1 555 0102, asked twice\n\n',
      'dnc.txt',
    );
    expect([...set]).toEqual(['+15550101', '+15550102']);
  });

  it('refuses an entry it cannot read rather than dropping it', () => {
    expect(() => parseDoNotCallList('+15550101\n5550102\n', 'dnc.txt')).toThrow(
      /dnc.txt has entries that are not phone numbers at line\(s\) 2/,
    );
  });
});

describe('campaign options', () => {
  it('has defaults', () => {
    expect(parseCampaignPolicy({})).toMatchObject({
      agentName: 'switchboard',
      concurrency: 1,
      rate: 1,
      timezone: 'UTC',
      maxAttempts: 3,
      retryDelayMs: 300_000,
      refusalsToStop: 3,
    });
  });

  it.each([
    [{ concurrency: 0 }, '--concurrency (concurrency): must be at least 1'],
    [{ concurrency: '2.5' }, '--concurrency (concurrency): must be a whole number'],
    [{ concurrency: 'three' }, '--concurrency (concurrency):'],
    [{ rate: 0 }, '--rate (rate): must be more than 0'],
    [{ rate: '-1' }, '--rate (rate): must be more than 0'],
    [{ window: '09:00-09:00' }, '--window (window): "09:00-09:00" never opens'],
    [{ window: '9-17' }, '--window (window): "9-17" is not HH:MM-HH:MM'],
    [{ window: '09:00-25:00' }, 'a time that does not exist'],
    [{ timezone: 'Europe/Atlantis' }, '--timezone (timezone): not an IANA time zone'],
    [{ maxAttempts: 0 }, '--max-attempts (maxAttempts)'],
    [{ trunkConcurrency: { sales: '0' } }, '--trunk-concurrency sales (trunkConcurrency)'],
    [{ from: '5550100' }, '--from (from): write it in E.164'],
  ])('rejects %j naming the option', (input, expected) => {
    const { code, message } = errorOf(() => parseCampaignPolicy(input));
    expect(code).toBe('campaign_options_invalid');
    expect(message).toContain('nothing was dialled');
    expect(message).toContain(expected);
  });

  it('lists every bad option at once', () => {
    const { message } = errorOf(() => parseCampaignPolicy({ concurrency: 0, rate: 0 }));
    expect(message).toContain('--concurrency');
    expect(message).toContain('--rate');
  });

  it('caps a trunk at its own limit, else "*", never above the campaign', () => {
    const policy = parseCampaignPolicy({
      concurrency: '4',
      trunkConcurrency: { sales: '1', '*': '2' },
    });
    expect([trunkCapOf(policy, 'sales'), trunkCapOf(policy, 'other')]).toEqual([1, 2]);
    expect(
      trunkCapOf(parseCampaignPolicy({ concurrency: 3, trunkConcurrency: { x: 9 } }), 'x'),
    ).toBe(3);
  });
});

describe('calling hours', () => {
  const window = parseCallingWindow('09:00-20:00') as CallingWindow;
  const night = parseCallingWindow('20:00-02:00') as CallingWindow;
  const instant = Date.parse('2026-03-02T15:00:00Z');

  it.each([
    // One instant, 15:00 UTC, in different callees' zones.
    { zone: 'America/New_York', local: '10:00', open: true, waitMs: 0 },
    { zone: 'Asia/Tokyo', local: '00:00', open: false, waitMs: 9 * 3_600_000 },
    { zone: 'Asia/Kolkata', local: '20:30', open: false, waitMs: 12.5 * 3_600_000 },
    { zone: 'Europe/Berlin', local: '16:00', open: true, waitMs: 0 },
    { zone: 'Pacific/Auckland', local: '04:00', open: false, waitMs: 5 * 3_600_000 },
  ])('$zone ($local local): open $open, opens in $waitMs ms', ({ zone, open, waitMs }) => {
    expect(isWithinWindow(window, zone, instant)).toBe(open);
    expect(msUntilWindowOpens(window, zone, instant)).toBe(waitMs);
  });

  it.each([
    ['2026-03-02T21:00:00Z', true],
    ['2026-03-02T01:59:00Z', true],
    ['2026-03-02T02:00:00Z', false],
    ['2026-03-02T19:59:00Z', false],
  ])('a window over midnight (20:00-02:00 UTC) at %s: open %s', (at, open) => {
    expect(isWithinWindow(night, 'UTC', Date.parse(at))).toBe(open);
  });

  it('takes 00:00-24:00 as all day, and the end as exclusive', () => {
    const allDay = parseCallingWindow('00:00-24:00') as CallingWindow;
    expect(isWithinWindow(allDay, 'UTC', Date.parse('2026-03-02T23:59:59Z'))).toBe(true);
    expect(isWithinWindow(window, 'UTC', Date.parse('2026-03-02T20:00:00Z'))).toBe(false);
  });

  it('counts the wait across a clock change from the local time (then checks again)', () => {
    // New York springs forward on 2026-03-08 at 02:00; 01:00 local is 06:00Z.
    const wait = msUntilWindowOpens(window, 'America/New_York', Date.parse('2026-03-08T06:00:00Z'));
    const opens = Date.parse('2026-03-08T06:00:00Z') + wait;
    // Eight wall-clock hours, one of which does not exist: the runner checks again at 14:00Z.
    expect(wait).toBe(8 * 3_600_000);
    expect(isWithinWindow(window, 'America/New_York', opens)).toBe(true);
  });
});

describe('the columns as the call context', () => {
  it("passes a row's other columns to the agent as call.options.context, its own context winning", async () => {
    const { parseCampaignList, callOptionsOf } = await import('../../src/campaigns/list.js');
    const list = parseCampaignList(
      'number,name,appointment\n+15550123456,Ada,tomorrow 10:00\n',
      'csv',
      'list.csv',
    );
    const row = list.rows[0];
    expect(row).toBeDefined();
    if (row === undefined) return;
    expect(callOptionsOf(row).callOptions).toEqual({
      context: { name: 'Ada', appointment: 'tomorrow 10:00' },
    });
  });

  it('refuses a column the agent could not take, naming the row and the column', async () => {
    const { parseCampaignList } = await import('../../src/campaigns/list.js');
    expect(() =>
      parseCampaignList(`number,notes\n+15550123456,${'x'.repeat(600)}\n`, 'csv', 'list.csv'),
    ).toThrow(/line 2.*notes/s);
  });
});
