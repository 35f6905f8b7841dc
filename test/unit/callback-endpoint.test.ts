/**
 * Callbacks from the browser (src/tokens/callback-endpoint.ts): the same gate as a token, the
 * number's own limits, and a one-row campaign run in the background against a scripted dialer, in
 * simulated time (rates, retries and a day's limit take no real time). One test uses the durable
 * file store with real time, to see what lands on disk.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/call-records/clock.js';
import { SimulatedClock } from '../../src/campaigns/clock.fake.js';
import { MemoryCampaignStore } from '../../src/campaigns/store.fake.js';
import { readJournal } from '../../src/campaigns/store.js';
import { ScriptedDialer, type ScriptedCall } from '../../src/outbound/dialer.fake.js';
import type { OutboundResult } from '../../src/outbound/outcome.js';
import {
  CallbackEndpoint,
  type CallbackAccepted,
  type CallbackEndpointOptions,
  type CallbackRefusal,
  type WebHttpRequest,
} from '../../src/tokens/index.js';

const NUMBER = '+15550100123';
const DIGITS = NUMBER.slice(1);

/** A campaign store in memory that records being closed (the endpoint closes each one). */
class TestStore extends MemoryCampaignStore {
  closed = false;
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

interface Setup {
  options?: Partial<CallbackEndpointOptions>;
  script?: Record<string, (ScriptedCall | OutboundResult)[]>;
}

function setup({ options = {}, script = {} }: Setup = {}) {
  const clock = new SimulatedClock();
  const dialer = new ScriptedDialer(clock, script, { ringMs: 5_000, talkMs: 60_000 });
  const stores = new Map<string, TestStore>();
  const log: string[] = [];
  const ep = new CallbackEndpoint({
    trunk: 'carrier',
    agent: 'switchboard',
    agents: ['switchboard', 'appointments'],
    dialer,
    authorize: () => ({ allow: true, userId: 'u-42' }),
    ratePerAddressPerHour: 100,
    ratePerUserPerHour: 100,
    perNumberPerDay: 3,
    openStore: (name) => {
      const store = new TestStore(name);
      stores.set(name, store);
      return Promise.resolve(store);
    },
    clock,
    log: (line) => log.push(line),
    ...options,
  });
  /** Lets simulated time pass (the background campaigns run meanwhile). */
  const pass = (ms: number) => clock.run(clock.sleep(ms));
  return { ep, clock, dialer, stores, log, pass };
}

const post = (body: unknown, over: Partial<WebHttpRequest> = {}): WebHttpRequest => ({
  method: 'POST',
  address: '198.51.100.7',
  headers: { host: 'talk.example.com', origin: 'https://talk.example.com' },
  body,
  ...over,
});

const refusalOf = (body: unknown) => body as CallbackRefusal;

describe('CallbackEndpoint: accepted', () => {
  it('answers 202 with the campaign and a masked number, then dials that number once on the trunk', async () => {
    const { ep, clock, dialer, stores, log } = setup();
    const res = await ep.handle(post({ number: '+1 (555) 010-0123' }));
    expect(res.status).toBe(202);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://talk.example.com',
      'cache-control': 'no-store',
    });
    const body = res.body as CallbackAccepted;
    expect(body.campaign).toMatch(/^callback-20260302T150000Z-[0-9a-f]{6}$/);
    expect(body.number).toBe('**********23');
    expect(JSON.stringify(res)).not.toContain(DIGITS);
    expect(ep.inProgress).toBe(1);

    await clock.run(ep.whenIdle());
    expect(dialer.placed.map((p) => p.request)).toEqual([
      {
        to: NUMBER,
        agentName: 'switchboard',
        trunk: 'carrier',
        // The agent (call.options.context) and the row know who asked: the web user, by id.
        callOptions: { context: { requestedFrom: 'web_callback', webUserId: 'u-42' } },
      },
    ]);
    const store = stores.get(body.campaign);
    expect(store?.closed).toBe(true);
    expect(store?.entries.map((e) => e.type)).toEqual([
      'run',
      'started',
      'placed',
      'outcome',
      'finished',
    ]);
    expect(store?.results).toMatchObject([{ rowId: 'callback', attempt: 1, result: 'answered' }]);
    expect(ep.inProgress).toBe(0);
    expect(log.join('\n')).toContain(`callback ${body.campaign}: completed; answered`);
    expect(log.join('\n')).not.toContain(DIGITS);
  });

  it('calls back with another offered agent when asked, and an anonymous caller is named by nobody', async () => {
    const { ep, clock, dialer } = setup({ options: { authorize: () => ({ allow: true }) } });
    expect((await ep.handle(post({ number: NUMBER, agent: 'appointments' }))).status).toBe(202);
    await clock.run(ep.whenIdle());
    expect(dialer.placed[0]?.request).toMatchObject({
      agentName: 'appointments',
      callOptions: { context: { requestedFrom: 'web_callback' } },
    });
    expect(dialer.placed[0]?.request.callOptions?.context).not.toHaveProperty('webUserId');

    const other = await ep.handle(post({ number: '+15550100999', agent: 'sales' }));
    expect(other.status).toBe(403);
    expect(refusalOf(other.body)).toMatchObject({ code: 'agent_not_offered' });
    expect(refusalOf(other.body).error).toContain('switchboard, appointments');
  });

  it('tries a busy number once more a minute later, then gives up', async () => {
    const { ep, clock, dialer } = setup({ script: { [NUMBER]: ['busy'] } });
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
    await clock.run(ep.whenIdle());
    expect(dialer.dials(NUMBER)).toBe(2);
    const [first, second] = dialer.placed.map((p) => p.atMs);
    expect((second ?? 0) - (first ?? 0)).toBe(65_000); // 5 s of ringing, then 60 s
  });
});

describe('CallbackEndpoint: refused', () => {
  it('says callbacks are off, naming WEB_CALLBACK_TRUNK, when there is no trunk', async () => {
    const { ep, dialer } = setup({ options: { trunk: undefined } });
    const res = await ep.handle(post({ number: NUMBER }));
    expect(res.status).toBe(404);
    expect(refusalOf(res.body).code).toBe('callbacks_disabled');
    expect(refusalOf(res.body).error).toMatch(/WEB_CALLBACK_TRUNK/);
    expect(dialer.placed).toEqual([]);
  });

  it.each([
    ['without a country code', { number: '5550199' }],
    ['too short to route', { number: '+123456' }],
    ['words', { number: 'call me maybe' }],
    ['not a string', { number: 15550100123 }],
    ['missing', { agent: 'switchboard' }],
    ['not JSON at all', undefined],
  ])('400 naming `number` for a number %s, and nothing dialled', async (_name, body) => {
    const { ep, dialer, stores } = setup();
    const res = await ep.handle(post(body));
    expect(res.status).toBe(400);
    const refusal = refusalOf(res.body);
    expect(refusal.code).toBe('callback_request_invalid');
    expect(refusal.error).toMatch(body === undefined ? /JSON object.*"number"/ : /number: /);
    // What was typed is not echoed back.
    expect(refusal.error).not.toMatch(/5550199|call me|\+123456\b/);
    expect(dialer.placed).toEqual([]);
    expect(stores.size).toBe(0);
  });

  it('403 for a page from an origin not allowed; 204 for an allowed preflight', async () => {
    const { ep, dialer } = setup({ options: { allowedOrigins: ['https://app.example.com'] } });
    const foreign = await ep.handle(
      post({ number: NUMBER }, { headers: { origin: 'https://talk.example.com' } }),
    );
    expect(foreign.status).toBe(403);
    expect(refusalOf(foreign.body).code).toBe('origin_not_allowed');
    const preflight = await ep.handle({
      method: 'OPTIONS',
      address: '198.51.100.7',
      headers: { origin: 'https://app.example.com' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(dialer.placed).toEqual([]);
  });

  it('the authorisation hook decides, as for a token (401 asks to sign in)', async () => {
    const { ep } = setup({
      options: { authorize: () => ({ allow: false, reason: 'sign in first' }) },
    });
    const res = await ep.handle(post({ number: NUMBER }));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: 'unauthorized', error: 'sign in first' });
  });

  it('429 with Retry-After past the address rate, counted before authorisation', async () => {
    let asked = 0;
    const { ep, pass } = setup({
      options: {
        ratePerAddressPerHour: 2,
        authorize: () => {
          asked++;
          return { allow: true, userId: `u-${asked}` };
        },
      },
    });
    expect((await ep.handle(post({ number: '+15550100001' }))).status).toBe(202);
    expect((await ep.handle(post({ number: '+15550100002' }))).status).toBe(202);
    const limited = await ep.handle(post({ number: '+15550100003' }));
    expect(limited.status).toBe(429);
    expect(refusalOf(limited.body).code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBe('1800'); // 2 an hour: one every 30 min
    expect(asked).toBe(2);
    await pass(1_800_000);
    expect((await ep.handle(post({ number: '+15550100003' }))).status).toBe(202);
  });

  it('429 with Retry-After past the user rate, whatever address they use', async () => {
    const { ep } = setup({ options: { ratePerUserPerHour: 1 } });
    expect((await ep.handle(post({ number: '+15550100001' }))).status).toBe(202);
    const limited = await ep.handle(post({ number: '+15550100002' }, { address: '203.0.113.9' }));
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3600');
    expect(refusalOf(limited.body).error).toMatch(/for this user/);
  });

  it('409 while a callback to the number is under way (however it is written); then it may be asked again', async () => {
    const { ep, clock, dialer } = setup();
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
    const again = await ep.handle(post({ number: '+1 555 010 0123' }, { address: '203.0.113.9' }));
    expect(again.status).toBe(409);
    expect(refusalOf(again.body).code).toBe('callback_pending');
    expect(again.headers).not.toHaveProperty('retry-after');
    await clock.run(ep.whenIdle());
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
    await clock.run(ep.whenIdle());
    expect(dialer.dials(NUMBER)).toBe(2);
  });

  it('429 past the callbacks to one number in a day, whoever asks, until the oldest is a day old', async () => {
    const { ep, clock, dialer, pass } = setup({ options: { perNumberPerDay: 2 } });
    const firstAtMs = clock.nowMs();
    for (const address of ['198.51.100.1', '198.51.100.2']) {
      expect((await ep.handle(post({ number: NUMBER }, { address }))).status).toBe(202);
      await clock.run(ep.whenIdle());
    }
    const limited = await ep.handle(post({ number: NUMBER }, { address: '198.51.100.3' }));
    expect(limited.status).toBe(429);
    expect(refusalOf(limited.body).error).toMatch(/WEB_CALLBACK_PER_NUMBER_PER_DAY/);
    const waitS = Math.ceil((firstAtMs + 86_400_000 - clock.nowMs()) / 1000);
    expect(limited.headers['retry-after']).toBe(String(waitS));
    // Another number is not affected.
    expect((await ep.handle(post({ number: '+15550100999' }))).status).toBe(202);
    await pass(waitS * 1000);
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
    await clock.run(ep.whenIdle());
    expect(dialer.dials(NUMBER)).toBe(3);
  });

  it('403 for a number on the do-not-call list, read on every request, and nothing dialled', async () => {
    const dnc = new Set<string>();
    const { ep, clock, dialer, stores } = setup({ options: { doNotCall: () => dnc } });
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
    await clock.run(ep.whenIdle());
    dnc.add(NUMBER);
    const res = await ep.handle(post({ number: NUMBER }));
    expect(res.status).toBe(403);
    expect(refusalOf(res.body).code).toBe('do_not_call');
    expect(dialer.dials(NUMBER)).toBe(1);
    expect(stores.size).toBe(1);
  });

  it('503 when the do-not-call list cannot be read: no callback placed unchecked', async () => {
    const { ep, dialer, log } = setup({
      options: { doNotCall: () => Promise.reject(new Error('EACCES')) },
    });
    const res = await ep.handle(post({ number: NUMBER }));
    expect(res.status).toBe(503);
    expect(refusalOf(res.body).code).toBe('do_not_call_unknown');
    expect(dialer.placed).toEqual([]);
    expect(log.join('\n')).toMatch(/do-not-call list could not be read \(EACCES\)/);
  });

  it('503 when this server has as many callbacks under way as it places at once', async () => {
    const { ep } = setup({ options: { maxInProgress: 1 } });
    expect((await ep.handle(post({ number: '+15550100001' }))).status).toBe(202);
    const busy = await ep.handle(post({ number: '+15550100002' }));
    expect(busy.status).toBe(503);
    expect(refusalOf(busy.body).code).toBe('callbacks_busy');
    expect(busy.headers['retry-after']).toBe('60');
  });

  it('503 when the campaign state cannot be opened; the number is then neither pending nor counted', async () => {
    let fail = true;
    const { ep } = setup({
      options: {
        perNumberPerDay: 1,
        openStore: (name) =>
          fail ? Promise.reject(new Error('EROFS')) : Promise.resolve(new TestStore(name)),
      },
    });
    const res = await ep.handle(post({ number: NUMBER }));
    expect(res.status).toBe(503);
    expect(refusalOf(res.body).code).toBe('callback_unavailable');
    fail = false;
    expect((await ep.handle(post({ number: NUMBER }))).status).toBe(202);
  });
});

describe('CallbackEndpoint: closing', () => {
  it('close() aborts the campaign under way, waits for it to record its end, and refuses new requests', async () => {
    const { ep, clock, dialer, stores, pass } = setup({ script: { [NUMBER]: ['busy'] } });
    const accepted = (await ep.handle(post({ number: NUMBER }))).body as CallbackAccepted;
    await pass(10_000); // the first attempt was busy; the retry is due in a minute
    expect(dialer.dials(NUMBER)).toBe(1);

    await clock.run(ep.close());
    expect(ep.inProgress).toBe(0);
    const store = stores.get(accepted.campaign);
    expect(store?.closed).toBe(true);
    expect(store?.entries.at(-1)).toMatchObject({ type: 'stopped', code: 'aborted' });
    await pass(120_000);
    expect(dialer.dials(NUMBER)).toBe(1); // the retry never happened

    const after = await ep.handle(post({ number: '+15550100999' }));
    expect(after.status).toBe(503);
    expect(refusalOf(after.body).code).toBe('closing');
  });

  it('close() while the call rings: the campaign ends once the dial is decided', async () => {
    const { ep, clock, dialer, stores } = setup();
    const accepted = (await ep.handle(post({ number: NUMBER }))).body as CallbackAccepted;
    await clock.run(Promise.resolve()); // the dial has started
    expect(dialer.dials(NUMBER)).toBe(1);
    await clock.run(ep.close());
    expect(stores.get(accepted.campaign)?.entries.map((e) => e.type)).toEqual([
      'run',
      'started',
      'placed',
      'outcome',
      'stopped',
    ]);
  });
});

describe('CallbackEndpoint: the durable campaign state', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('keeps each callback as a campaign on disk, the number only masked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-callback-'));
    dirs.push(dir);
    const dialer = new ScriptedDialer(systemClock, {}, { ringMs: 1, talkMs: 1 });
    const ep = new CallbackEndpoint({
      trunk: 'carrier',
      agent: 'switchboard',
      agents: [],
      dialer,
      authorize: () => ({ allow: true, userId: 'u-42' }),
      ratePerAddressPerHour: 10,
      ratePerUserPerHour: 10,
      perNumberPerDay: 3,
      campaignsDir: dir,
    });
    const { campaign } = (await ep.handle(post({ number: NUMBER }))).body as CallbackAccepted;
    await ep.whenIdle();
    expect(dialer.dials(NUMBER)).toBe(1);
    const journal = await readFile(join(dir, campaign, 'journal.jsonl'), 'utf8');
    expect(journal).not.toContain(DIGITS);
    const { entries } = await readJournal(join(dir, campaign));
    expect(entries[0]).toMatchObject({
      type: 'run',
      listFile: `web-callback-${campaign}`,
      rows: [{ id: 'callback', masked: '**********23', trunk: 'carrier' }],
    });
    expect(entries.at(-1)?.type).toBe('finished');
    await ep.close();
  });
});
