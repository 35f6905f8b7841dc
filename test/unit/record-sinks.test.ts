import { once } from 'node:events';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/call-records/clock.fake.js';
import {
  backoffDelayMs,
  CallRecordSchema,
  CallRecordWriter,
  CallTracker,
  classifyStatus,
  createRecordSink,
  FileSink,
  MultiSink,
  parseRetryAfterMs,
  readCallRecords,
  RECORD_ID_HEADER,
  SIGNATURE_HEADER,
  verifyWebhookSignature,
  WebhookSink,
  type CallRecord,
  type DeadLetter,
  type DeliveryReport,
  type WebhookSinkOptions,
} from '../../src/call-records/index.js';
import { FakeRecordSink } from '../../src/call-records/sink.fake.js';
import { isSwitchboardError, type SwitchboardError } from '../../src/errors/index.js';
import { phoneCaller } from '../support/callers.js';

const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

function callRecord(callId = 'AJ_sink_1'): CallRecord {
  const t = new CallTracker(
    { callId, room: 'room-1', agentName: 'switchboard', caller: phoneCaller },
    () => new Date('2026-01-01T10:00:00Z'),
  );
  t.agentStartedSpeaking();
  t.said('agent', 'Hello, how can I help?');
  t.said('caller', 'What are your opening hours?');
  t.ended('completed', 'the caller said goodbye');
  return t.toRecord();
}

/** The record as every sink writes it: validated, defaults filled in. */
const canonical = (r: CallRecord) => CallRecordSchema.parse(r);

type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A real HTTP receiver on 127.0.0.1: answers from a script (the last reply repeats). */
class Receiver {
  readonly received: Received[] = [];
  port = 0;
  private readonly server: Server;

  private constructor(private readonly replies: Reply[]) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        const n = Math.min(this.received.length, this.replies.length) - 1;
        const reply = this.replies[n] ?? { status: 200 };
        if (reply === 'hang') return;
        res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
      });
    });
  }

  static async start(replies: Reply[], port = 0): Promise<Receiver> {
    const r = new Receiver(replies);
    r.server.listen(port, '127.0.0.1');
    await once(r.server, 'listening');
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/calls`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** A port with nothing listening on it (a receiver that is down). */
async function downPort(): Promise<number> {
  const r = await Receiver.start([]);
  await r.stop();
  return r.port;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sinks-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function receiver(replies: Reply[], port?: number): Promise<Receiver> {
  const r = await Receiver.start(replies, port);
  cleanups.push(() => r.stop());
  return r;
}

interface Harness {
  sink: WebhookSink;
  clock: FakeClock;
  spoolDir: string;
  reports: DeliveryReport[];
}

async function webhookSink(
  url: string,
  options: Omit<Partial<WebhookSinkOptions>, 'clock'> & { clock?: FakeClock } = {},
): Promise<Harness> {
  const clock = options.clock ?? new FakeClock({ autoAdvanceBelowMs: 60_000 });
  const spoolDir = options.spoolDir ?? join(await tempDir(), 'spool');
  const reports: DeliveryReport[] = [];
  const sink = new WebhookSink({
    url,
    secret: SECRET,
    deliveryTimeoutMs: 3_000,
    requestTimeoutMs: 2_000,
    initialBackoffMs: 250,
    maxBackoffMs: 4_000,
    resendIntervalMs: 60_000,
    random: () => 0,
    onDelivery: (r) => reports.push(r),
    ...options,
    clock,
    spoolDir,
  });
  cleanups.push(() => sink.close());
  return { sink, clock, spoolDir, reports };
}

async function pendingRecords(spoolDir: string): Promise<CallRecord[]> {
  const pending = join(spoolDir, 'pending');
  const names = (await readdir(pending).catch(() => [])).filter((n) => n.endsWith('.json'));
  return Promise.all(
    names.map(async (n) => JSON.parse(await readFile(join(pending, n), 'utf8')) as CallRecord),
  );
}

async function deadLetters(spoolDir: string): Promise<DeadLetter[]> {
  const text = await readFile(join(spoolDir, 'dead-letter.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as DeadLetter);
}

const mode = async (file: string) => (await stat(file)).mode & 0o777;

async function rejection(work: Promise<unknown>): Promise<SwitchboardError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSwitchboardError(err)) throw new Error(`expected a SwitchboardError, got ${String(err)}`);
  return err;
}

describe('verifyWebhookSignature on a real delivery', () => {
  it('accepts the bytes the receiver got, which are the record, with the call ID as record ID', async () => {
    const r = await receiver([{ status: 200 }]);
    const { sink, clock } = await webhookSink(r.url);
    const rec = callRecord();
    expect(await sink.send(rec)).toMatchObject({ outcome: 'delivered', attempts: 1 });

    expect(r.received).toHaveLength(1);
    const [req] = r.received;
    expect(req!.headers[RECORD_ID_HEADER]).toBe('AJ_sink_1');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req!.body.toString('utf8'))).toEqual(canonical(rec));
    expect(req!.headers[SIGNATURE_HEADER]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(
      verifyWebhookSignature({
        secret: SECRET,
        header: req!.headers[SIGNATURE_HEADER],
        body: req!.body,
        now: new Date(clock.nowMs()),
      }),
    ).toBe(true);
  });

  const tamperings: [string, (body: Buffer, header: string, nowMs: number) => unknown, boolean][] =
    [
      ['untouched, 299 s later', (body, header, nowMs) => [body, header, nowMs + 299_000], true],
      [
        'one byte of the body changed',
        (body, header, nowMs) => {
          const copy = Buffer.from(body);
          copy[copy.length - 2] = copy[copy.length - 2]! ^ 1;
          return [copy, header, nowMs];
        },
        false,
      ],
      [
        'the body re-serialised with spaces',
        (body, header, nowMs) => [
          JSON.stringify(JSON.parse(body.toString()), null, 1),
          header,
          nowMs,
        ],
        false,
      ],
      [
        'checked 301 s later (stale)',
        (body, header, nowMs) => [body, header, nowMs + 301_000],
        false,
      ],
      [
        'checked 301 s earlier (future)',
        (body, header, nowMs) => [body, header, nowMs - 301_000],
        false,
      ],
      [
        'timestamp moved by one second',
        (body, header, nowMs) => [
          body,
          header.replace(/t=(\d+)/, (_m, t: string) => `t=${Number(t) + 1}`),
          nowMs,
        ],
        false,
      ],
      ['header without v1', (body, header, nowMs) => [body, header.split(',v1=')[0], nowMs], false],
      ['header missing', (body, _header, nowMs) => [body, undefined, nowMs], false],
    ];

  it.each(tamperings)('%s -> valid: %s', async (_name, tamper, expected) => {
    const r = await receiver([{ status: 200 }]);
    const { sink, clock } = await webhookSink(r.url);
    await sink.send(callRecord());
    const req = r.received[0]!;
    const [body, header, nowMs] = tamper(
      req.body,
      req.headers[SIGNATURE_HEADER] as string,
      clock.nowMs(),
    ) as [Buffer | string, string | undefined, number];
    expect(verifyWebhookSignature({ secret: SECRET, header, body, now: new Date(nowMs) })).toBe(
      expected,
    );
  });

  it('rejects the right bytes checked with another secret', async () => {
    const r = await receiver([{ status: 200 }]);
    const { sink, clock } = await webhookSink(r.url);
    await sink.send(callRecord());
    const req = r.received[0]!;
    const check = (secret: string) =>
      verifyWebhookSignature({
        secret,
        header: req.headers[SIGNATURE_HEADER],
        body: req.body,
        now: new Date(clock.nowMs()),
      });
    expect(check(SECRET)).toBe(true);
    expect(check(`${SECRET}x`)).toBe(false);
    expect(check('')).toBe(false);
  });
});

describe('WebhookSink delivery and retries', () => {
  it('503, 503, 200: delivered once, three requests with the same record ID and body, backoff between', async () => {
    const r = await receiver([{ status: 503 }, { status: 503 }, { status: 200 }]);
    const { sink, clock, spoolDir } = await webhookSink(r.url, { random: () => 0.5 });
    const report = await sink.send(callRecord('AJ_retry'));

    expect(report).toEqual({
      callId: 'AJ_retry',
      outcome: 'delivered',
      via: 'write',
      attempts: 3,
      status: 200,
    });
    expect(r.received).toHaveLength(3);
    expect(r.received.map((q) => q.headers[RECORD_ID_HEADER])).toEqual([
      'AJ_retry',
      'AJ_retry',
      'AJ_retry',
    ]);
    const bodies = new Set(r.received.map((q) => q.body.toString('utf8')));
    expect(bodies.size).toBe(1);
    // Equal jitter with random 0.5: 3/4 of 250 ms, then of 500 ms.
    expect(clock.sleeps).toEqual([188, 375]);
    expect(await pendingRecords(spoolDir)).toEqual([]);
    expect(await deadLetters(spoolDir)).toEqual([]);
  });

  it('429 with Retry-After: waits exactly what the receiver asked, then delivers', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }]);
    const { sink, clock } = await webhookSink(r.url, { deliveryTimeoutMs: 30_000 });
    expect(await sink.send(callRecord())).toMatchObject({ outcome: 'delivered', attempts: 2 });
    expect(clock.sleeps).toEqual([7_000]);
    expect(r.received).toHaveLength(2);
  });

  it('a Retry-After beyond the delivery time spools at once instead of waiting', async () => {
    const r = await receiver([{ status: 503, headers: { 'retry-after': '120' } }]);
    const { sink, clock, spoolDir } = await webhookSink(r.url, { deliveryTimeoutMs: 10_000 });
    expect(await sink.send(callRecord())).toMatchObject({
      outcome: 'spooled',
      attempts: 1,
      status: 503,
    });
    expect(r.received).toHaveLength(1);
    expect(await pendingRecords(spoolDir)).toHaveLength(1);
    // The resend waits what the receiver asked (120 s), not the shorter interval (60 s).
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([120_000]));
    // The write itself never waited: the only sleep asked for is the resend loop's.
    expect(clock.sleeps).toEqual([120_000]);
  });

  // deliveryTimeoutMs 3000, backoff from 250 ms doubling, random 0 (half of each): tries at 0,
  // 125, 375, 875 and 1875 ms; the next wait (2000 ms) would end past the deadline: 5 requests.
  const statuses: [number, DeliveryReport['outcome'], number][] = [
    [200, 'delivered', 1],
    [201, 'delivered', 1],
    [204, 'delivered', 1],
    [302, 'dead_lettered', 1],
    [400, 'dead_lettered', 1],
    [401, 'dead_lettered', 1],
    [403, 'dead_lettered', 1],
    [404, 'dead_lettered', 1],
    [413, 'dead_lettered', 1],
    [422, 'dead_lettered', 1],
    [408, 'spooled', 5],
    [425, 'spooled', 5],
    [429, 'spooled', 5],
    [500, 'spooled', 5],
    [502, 'spooled', 5],
    [503, 'spooled', 5],
    [504, 'spooled', 5],
  ];

  it.each(statuses)(
    'HTTP %i from the receiver -> %s after %i request(s)',
    async (status, outcome, requests) => {
      const r = await receiver([
        {
          status,
          body: status >= 400 ? 'refused: unknown version' : '',
          headers: status === 302 ? { location: 'https://elsewhere.example/' } : {},
        },
      ]);
      const { sink, spoolDir } = await webhookSink(r.url);
      const rec = callRecord(`AJ_${status}`);
      const report = await sink.send(rec);

      expect(report).toMatchObject({ outcome, attempts: requests, status });
      expect(r.received).toHaveLength(requests);
      const pending = await pendingRecords(spoolDir);
      const dead = await deadLetters(spoolDir);
      expect(pending).toEqual(outcome === 'spooled' ? [canonical(rec)] : []);
      expect(dead.map((d) => [d.status, d.record.callId])).toEqual(
        outcome === 'dead_lettered' ? [[status, `AJ_${status}`]] : [],
      );
    },
  );

  it('400: the record goes to the dead-letter file (0600) with the reason, and is never sent again', async () => {
    const r = await receiver([
      { status: 400, body: 'record version 1 is not supported' },
      { status: 200 },
    ]);
    const { sink, spoolDir } = await webhookSink(r.url);
    const rec = callRecord('AJ_refused');
    expect(await sink.send(rec)).toMatchObject({
      outcome: 'dead_lettered',
      attempts: 1,
      status: 400,
    });

    const [dead, ...more] = await deadLetters(spoolDir);
    expect(more).toEqual([]);
    expect(dead).toMatchObject({ status: 400, response: 'record version 1 is not supported' });
    expect(dead!.reason).toContain('not retried');
    expect(dead!.record).toEqual(canonical(rec));
    expect(await mode(join(spoolDir, 'dead-letter.jsonl'))).toBe(0o600);

    // The receiver would now accept anything: a resend pass still has nothing to send.
    expect(await sink.resendSpooled()).toEqual({ delivered: 0, deadLettered: 0, remaining: 0 });
    expect(r.received).toHaveLength(1);
  });

  it('bounds the delivery in real time when the receiver never answers, then spools', async () => {
    const r = await receiver(['hang']);
    const spoolDir = join(await tempDir(), 'spool');
    const sink = new WebhookSink({
      url: r.url,
      secret: SECRET,
      spoolDir,
      deliveryTimeoutMs: 400,
      requestTimeoutMs: 150,
      initialBackoffMs: 20,
    });
    cleanups.push(() => sink.close());
    const startedMs = Date.now();
    const report = await sink.send(callRecord());
    const elapsedMs = Date.now() - startedMs;

    expect(report).toMatchObject({
      outcome: 'spooled',
      reason: expect.stringMatching(/^no answer within \d+ ms$/),
    });
    expect(elapsedMs).toBeGreaterThanOrEqual(300);
    expect(elapsedMs).toBeLessThan(2_000);
    expect(r.received.length).toBe(report.attempts);
    expect(await pendingRecords(spoolDir)).toHaveLength(1);
  });
});

describe('WebhookSink spool', () => {
  it('receiver down: spooled (0600); receiver up: resent after the interval, spool emptied', async () => {
    const port = await downPort();
    const { sink, clock, spoolDir, reports } = await webhookSink(`http://127.0.0.1:${port}/calls`);
    const rec = callRecord('AJ_down');
    const report = await sink.send(rec);

    expect(report).toMatchObject({ outcome: 'spooled', reason: 'ECONNREFUSED', attempts: 5 });
    const names = await readdir(join(spoolDir, 'pending'));
    expect(names).toHaveLength(1);
    expect(await mode(join(spoolDir, 'pending', names[0]!))).toBe(0o600);
    expect(await pendingRecords(spoolDir)).toEqual([canonical(rec)]);

    // The resend loop waits for its interval; nothing is sent before it passes.
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([60_000]));
    const r = await receiver([{ status: 200 }], port);
    expect(r.received).toHaveLength(0);
    clock.advance(60_000);

    await vi.waitFor(async () => expect(await readdir(join(spoolDir, 'pending'))).toEqual([]));
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.headers[RECORD_ID_HEADER]).toBe('AJ_down');
    expect(JSON.parse(r.received[0]!.body.toString())).toEqual(canonical(rec));
    expect(
      verifyWebhookSignature({
        secret: SECRET,
        header: r.received[0]!.headers[SIGNATURE_HEADER],
        body: r.received[0]!.body,
        now: new Date(clock.nowMs()),
      }),
    ).toBe(true);
    expect(reports.at(-1)).toEqual({
      callId: 'AJ_down',
      outcome: 'delivered',
      via: 'resend',
      attempts: 1,
      status: 200,
    });
    // Drained: the loop waits for the next spooled record, not on a timer.
    expect(clock.pendingSleeps).toEqual([]);
  });

  it('a resend the receiver still refuses with 503 keeps the record for the next interval', async () => {
    const port = await downPort();
    const { sink, clock, spoolDir } = await webhookSink(`http://127.0.0.1:${port}/calls`);
    await sink.send(callRecord('AJ_later'));
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([60_000]));

    const r = await receiver([{ status: 503 }, { status: 200 }], port);
    clock.advance(60_000);
    await vi.waitFor(() => expect(r.received).toHaveLength(1));
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([60_000]));
    expect(await pendingRecords(spoolDir)).toHaveLength(1);

    clock.advance(60_000);
    await vi.waitFor(async () => expect(await pendingRecords(spoolDir)).toEqual([]));
    expect(r.received.map((q) => q.headers[RECORD_ID_HEADER])).toEqual(['AJ_later', 'AJ_later']);
  });

  it('records left by an earlier process are sent by the next one after its first delivery', async () => {
    const port = await downPort();
    const spoolDir = join(await tempDir(), 'spool');
    const first = await webhookSink(`http://127.0.0.1:${port}/calls`, { spoolDir });
    await first.sink.send(callRecord('AJ_old'));
    await first.sink.close();
    // A process that died while writing a spool file leaves only a temporary file.
    await writeFile(join(spoolDir, 'pending', '.000000000000001-AJ_x.json.1.abc.tmp'), '{"trunc');

    const r = await receiver([{ status: 200 }], port);
    const second = await webhookSink(r.url, { spoolDir });
    expect(await second.sink.send(callRecord('AJ_new'))).toMatchObject({ outcome: 'delivered' });

    await vi.waitFor(async () => expect(await pendingRecords(spoolDir)).toEqual([]));
    expect(r.received.map((q) => q.headers[RECORD_ID_HEADER])).toEqual(['AJ_new', 'AJ_old']);
  });

  it('two sinks sharing a spool (two job processes) lose none of the records they spool at once', async () => {
    const port = await downPort();
    const spoolDir = join(await tempDir(), 'spool');
    const a = await webhookSink(`http://127.0.0.1:${port}/calls`, {
      spoolDir,
      deliveryTimeoutMs: 0,
    });
    const b = await webhookSink(`http://127.0.0.1:${port}/calls`, {
      spoolDir,
      deliveryTimeoutMs: 0,
    });
    const ids = ['AJ_a1', 'AJ_b1', 'AJ_a2', 'AJ_b2', 'AJ_a3', 'AJ_b3'];
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? a : b).sink.send(callRecord(id))));
    expect((await pendingRecords(spoolDir)).map((x) => x.callId).sort()).toEqual([...ids].sort());

    const r = await receiver([{ status: 200 }], port);
    expect(await a.sink.resendSpooled()).toEqual({ delivered: 6, deadLettered: 0, remaining: 0 });
    expect(r.received.map((q) => q.headers[RECORD_ID_HEADER]).sort()).toEqual([...ids].sort());
    expect(await pendingRecords(spoolDir)).toEqual([]);
  });

  it('a record is in the spool while its delivery is still retried (a killed process loses nothing)', async () => {
    const r = await receiver([{ status: 503 }]);
    const clock = new FakeClock(); // the write stays in its first backoff
    const { sink, spoolDir } = await webhookSink(r.url, { clock });
    const rec = callRecord('AJ_inflight');
    const sending = sink.send(rec);
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([125]));

    expect(await pendingRecords(spoolDir)).toEqual([canonical(rec)]);
    // This sink's own resend pass leaves a record that a write is still delivering alone.
    expect(await sink.resendSpooled()).toEqual({ delivered: 0, deadLettered: 0, remaining: 0 });
    expect(r.received).toHaveLength(1);
    await sink.close();
    expect(await sending).toMatchObject({ outcome: 'spooled' });
  });

  it('without a writable spool: a delivered record still resolves, an undelivered one rejects', async () => {
    const blocker = join(await tempDir(), 'a-file');
    await writeFile(blocker, '');
    const spoolDir = join(blocker, 'spool');
    const up = await receiver([{ status: 200 }]);
    const delivered = await webhookSink(up.url, { spoolDir });
    expect(await delivered.sink.send(callRecord('AJ_nospool'))).toMatchObject({
      outcome: 'delivered',
    });
    expect(up.received).toHaveLength(1);

    const down = await webhookSink(`http://127.0.0.1:${await downPort()}/calls`, { spoolDir });
    const err = await rejection(down.sink.send(callRecord('AJ_lost')));
    expect(err).toMatchObject({ code: 'records_dir_unwritable', retryable: true });
    expect(err.message).toContain('AJ_lost');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('CALL_RECORDS_SPOOL_DIR');
  });

  it('close() during retries: the write spools and resolves, no request or timer is left', async () => {
    const r = await receiver([{ status: 503 }]);
    const clock = new FakeClock(); // nothing passes on its own: the write waits in its backoff
    const { sink, spoolDir } = await webhookSink(r.url, { clock });
    const sending = sink.send(callRecord('AJ_closing'));
    await vi.waitFor(() => expect(clock.pendingSleeps).toEqual([125]));

    await sink.close();
    expect(await sending).toMatchObject({ outcome: 'spooled', attempts: 1, status: 503 });
    expect(await pendingRecords(spoolDir)).toHaveLength(1);
    expect(clock.pendingSleeps).toEqual([]);
    clock.advance(600_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.received).toHaveLength(1);

    // After close a record still is not lost: it goes straight to the spool.
    expect(await sink.send(callRecord('AJ_after'))).toMatchObject({
      outcome: 'spooled',
      attempts: 0,
    });
    expect((await pendingRecords(spoolDir)).map((x) => x.callId).sort()).toEqual([
      'AJ_after',
      'AJ_closing',
    ]);
    expect(r.received).toHaveLength(1);
  });
});

describe('WebhookSink preflight', () => {
  const cases: [string, Partial<Pick<WebhookSinkOptions, 'url' | 'secret'>>, string[]][] = [
    ['an empty URL', { url: '' }, ['CALL_RECORDS_WEBHOOK_URL is empty', 'https://']],
    [
      'a URL without a scheme',
      { url: 'records.example.com/calls' },
      ['CALL_RECORDS_WEBHOOK_URL is not an absolute URL'],
    ],
    [
      'an ftp URL',
      { url: 'ftp://records.example.com/calls' },
      ['CALL_RECORDS_WEBHOOK_URL uses ftp:', 'https://'],
    ],
    [
      'credentials in the URL',
      { url: 'https://bob:hunter2@records.example.com/calls' },
      ['user name or password'],
    ],
    [
      'no secret',
      { secret: '' },
      ['CALL_RECORDS_WEBHOOK_SECRET is not set', 'openssl rand -hex 32'],
    ],
    [
      'a short secret',
      { secret: 'only-twenty-chars-xx' },
      ['CALL_RECORDS_WEBHOOK_SECRET has 20 characters', 'at least 32'],
    ],
  ];

  it.each(cases)(
    '%s -> record_sink_invalid naming the variable and the fix',
    async (_name, bad, mentions) => {
      const { sink } = await webhookSink('https://records.example.com/calls', bad);
      const err = await rejection(sink.preflight());
      expect(err.code).toBe('record_sink_invalid');
      expect(err.retryable).toBe(false);
      for (const m of mentions) expect(err.message).toContain(m);
      for (const secret of ['hunter2', 'only-twenty-chars-xx'])
        expect(err.message).not.toContain(secret);
      expect(sink.description).not.toContain('hunter2');
    },
  );

  it('lists a bad URL and a bad secret in one message', async () => {
    const { sink } = await webhookSink('nope', { secret: 'short' });
    const err = await rejection(sink.preflight());
    expect(err.message).toContain('CALL_RECORDS_WEBHOOK_URL');
    expect(err.message).toContain('CALL_RECORDS_WEBHOOK_SECRET');
  });

  it('a spool directory that cannot be created -> records_dir_unwritable naming it and the fix', async () => {
    const blocker = join(await tempDir(), 'a-file');
    await writeFile(blocker, '');
    const { sink } = await webhookSink('https://records.example.com/calls', {
      spoolDir: join(blocker, 'spool'),
    });
    const err = await rejection(sink.preflight());
    expect(err.code).toBe('records_dir_unwritable');
    expect(err.message).toContain(join(blocker, 'spool', 'pending'));
    expect(err.message).toContain('CALL_RECORDS_SPOOL_DIR');
  });

  it('a valid configuration passes without a request to the receiver (it may not exist yet)', async () => {
    const r = await receiver([{ status: 500 }]);
    const { sink, spoolDir } = await webhookSink(r.url);
    await sink.preflight();
    expect(await mode(join(spoolDir, 'pending'))).toBe(0o700);
    expect(await readdir(join(spoolDir, 'pending'))).toEqual([]);
    expect(r.received).toHaveLength(0);
    expect(sink.description).toBe(`webhook ${r.url} (spool ${spoolDir})`);
  });

  it('a misconfigured sink keeps what it is given in the spool instead of losing it', async () => {
    const { sink, spoolDir } = await webhookSink('not a url');
    expect(await sink.send(callRecord('AJ_kept'))).toMatchObject({
      outcome: 'spooled',
      attempts: 0,
    });
    expect((await pendingRecords(spoolDir)).map((x) => x.callId)).toEqual(['AJ_kept']);
  });
});

describe('FileSink', () => {
  it('appends one validated line per record, mode 0600, readable back', async () => {
    const dir = await tempDir();
    const sink = new FileSink(dir);
    await sink.preflight();
    await sink.write(callRecord('AJ_f1'));
    await sink.write(callRecord('AJ_f2'));
    await sink.close();

    const file = join(dir, 'calls-2026-01-01.jsonl');
    expect(await mode(file)).toBe(0o600);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as CallRecord).callId)).toEqual(['AJ_f1', 'AJ_f2']);
    expect((await readCallRecords(dir)).map((r) => r.callId)).toEqual(['AJ_f1', 'AJ_f2']);
    expect(await readdir(dir)).toEqual(['calls-2026-01-01.jsonl']);
  });

  it('keeps an invalid record as a degraded one: valid fields kept, the original whole', async () => {
    const dir = await tempDir();
    const good = callRecord('AJ_bad');
    const invalid = { ...good, endedAt: 'yesterday' } as CallRecord;
    await new FileSink(dir).write(invalid);
    const [kept] = await readCallRecords(dir);
    expect(kept?.callId).toBe('AJ_bad');
    expect(kept?.turns).toEqual(good.turns);
    expect(kept?.degraded?.problems.join(' ')).toMatch(/endedAt/);
    expect(JSON.parse(kept?.degraded?.original ?? '{}')).toEqual(
      JSON.parse(JSON.stringify(invalid)),
    );
  });

  it('narrows an existing record file to owner-only on the first write', async () => {
    const dir = await tempDir();
    const file = join(dir, 'calls-2026-01-01.jsonl');
    await writeFile(file, '', { mode: 0o644 });
    await chmod(file, 0o644);
    await new FileSink(dir).write(callRecord('AJ_mode'));
    expect(await mode(file)).toBe(0o600);
  });

  it('preflight: a directory that cannot be created -> records_dir_unwritable naming it and the fix', async () => {
    const blocker = join(await tempDir(), 'a-file');
    await writeFile(blocker, '');
    const err = await rejection(new FileSink(join(blocker, 'records')).preflight());
    expect(err.code).toBe('records_dir_unwritable');
    expect(err.message).toContain(join(blocker, 'records'));
    expect(err.message).toContain('CALL_RECORDS_DIR');
  });

  it('CallRecordWriter still resolves with the file it appended to', async () => {
    const dir = await tempDir();
    const file = await new CallRecordWriter(dir).write(callRecord());
    expect(file).toBe(join(dir, 'calls-2026-01-01.jsonl'));
    expect(await readCallRecords(dir)).toHaveLength(1);
  });
});

describe('createRecordSink and MultiSink', () => {
  it('files only without a webhook; files and a signed POST with one', async () => {
    const dir = await tempDir();
    expect(createRecordSink({ dir })).toBeInstanceOf(FileSink);

    const r = await receiver([{ status: 200 }]);
    const sink = createRecordSink({
      dir,
      webhook: { url: r.url, secret: SECRET, spoolDir: join(dir, 'spool') },
    });
    cleanups.push(() => sink.close());
    await sink.preflight();
    await sink.write(callRecord('AJ_both'));

    expect((await readCallRecords(dir)).map((x) => x.callId)).toEqual(['AJ_both']);
    expect(r.received).toHaveLength(1);
    const req = r.received[0]!;
    expect(
      verifyWebhookSignature({
        secret: SECRET,
        header: req.headers[SIGNATURE_HEADER],
        body: req.body,
      }),
    ).toBe(true);
  });

  it('one failing sink fails the write, after the other one has the record', async () => {
    const good = new FakeRecordSink();
    const failure = new Error('disk full');
    const sink = new MultiSink([new FakeRecordSink({ writeError: failure }), good]);
    await expect(sink.write(callRecord('AJ_multi'))).rejects.toBe(failure);
    expect(good.records.map((x) => x.callId)).toEqual(['AJ_multi']);
    await sink.close();
    expect(good.closed).toBe(true);
  });
});

describe('retry policy', () => {
  it.each([
    [200, 'delivered'],
    [299, 'delivered'],
    [301, 'reject'],
    [400, 'reject'],
    [401, 'reject'],
    [404, 'reject'],
    [409, 'reject'],
    [408, 'retry'],
    [425, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [599, 'retry'],
  ] as const)('HTTP %i -> %s', (status, verdict) => {
    expect(classifyStatus(status)).toBe(verdict);
  });

  const nowMs = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['7', 7_000],
    ['0', 0],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['soon', undefined],
    ['1.5', undefined],
    [null, undefined],
  ])('Retry-After %s -> %s ms', (value, expected) => {
    expect(parseRetryAfterMs(value, nowMs)).toBe(expected);
  });

  it.each([
    [1, 0, 250],
    [1, 0.999, 500],
    [2, 0, 500],
    [3, 0.5, 1_500],
    [10, 0, 2_000],
    [10, 0.999, 3_998],
  ])('attempt %i with random %f -> %i ms', (attempt, random, expected) => {
    expect(
      backoffDelayMs(attempt, { initialBackoffMs: 500, maxBackoffMs: 4_000 }, () => random),
    ).toBe(expected);
  });
});
