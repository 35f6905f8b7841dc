import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import {
  CallRecordSchema,
  CallRecordWriter,
  CallTracker,
  readCallRecords,
  salvageRecord,
} from '../../src/call-records/index.js';
import { describeCaller } from '../../src/caller/index.js';
import { parseCallOptions } from '../../src/dispatch/index.js';

const caller = describeCaller({
  identity: 'sip_+1555',
  kind: ParticipantKind.SIP,
  attributes: { 'sip.callID': 'SCL_1', 'sip.phoneNumber': '+15557654321', 'sip.ruleID': 'SDR_1' },
});

function clock(...isoTimes: string[]): () => Date {
  let i = 0;
  return () => new Date(isoTimes[Math.min(i++, isoTimes.length - 1)] ?? 0);
}

describe('CallTracker', () => {
  it('keeps the first end: an agent that ends the call is not overwritten by the hang-up that follows', () => {
    const t = new CallTracker(
      { callId: 'AJ_1', room: 'r', agentName: 'a', caller },
      clock(
        '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:01Z',
        '2026-01-01T00:00:02Z',
        '2026-01-01T00:00:09Z',
      ),
    );
    t.agentStartedSpeaking();
    t.said('agent', 'hello');
    t.said('caller', 'what are your opening hours');
    t.toolCalled({ name: 'end_call', arguments: '{}', output: '', isError: false });
    t.addUsage({ sttAudioSeconds: 1.234, llmPromptTokens: 3, ttsCharacters: 5 });
    t.addUsage({ sttAudioSeconds: 1, llmCompletionTokens: 2 });
    t.ended('agent_ended', 'time limit');
    t.ended('caller_hung_up', 'the caller hung up');
    const r = t.toRecord();
    expect(r).toMatchObject({
      outcome: 'agent_ended',
      endReason: 'time limit',
      startedAt: '2026-01-01T00:00:00.000Z',
      answeredAt: '2026-01-01T00:00:01.000Z',
      endedAt: '2026-01-01T00:00:09.000Z',
    });
    expect(r.caller).toMatchObject({ channel: 'phone', callerNumber: '+15557654321' });
    expect(r.turns.map((x) => [x.role, x.text])).toEqual([
      ['agent', 'hello'],
      ['caller', 'what are your opening hours'],
    ]);
    expect(r.toolCalls.map((c) => c.name)).toEqual(['end_call']);
    expect(r.usage).toEqual({
      sttAudioSeconds: 2.23,
      llmPromptTokens: 3,
      llmCompletionTokens: 2,
      ttsCharacters: 5,
    });
    expect(CallRecordSchema.safeParse(r).success).toBe(true);
  });

  it('records a call that ended without a cause as failed', () => {
    expect(
      new CallTracker({ callId: 'AJ_2', room: 'r', agentName: 'a', caller }).toRecord().outcome,
    ).toBe('failed');
  });
});

describe('CallRecordWriter', () => {
  it('appends one validated JSON line per call, readable back, owner-only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-rec-'));
    const w = new CallRecordWriter(dir);
    const rec = new CallTracker({ callId: 'AJ_3', room: 'r', agentName: 'a', caller }).toRecord();
    const file = await w.write(rec);
    await w.write({ ...rec, callId: 'AJ_4' });
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await readCallRecords(dir)).map((r) => r.callId)).toEqual(['AJ_3', 'AJ_4']);
  });

  it('keeps a record that does not validate, degraded: a bad outcome and a bad turn do not lose the rest', async () => {
    const w = new CallRecordWriter(await mkdtemp(join(tmpdir(), 'sb-rec-')));
    const t = new CallTracker({ callId: 'AJ_5', room: 'r', agentName: 'a', caller });
    t.said('caller', 'hello');
    const rec = t.toRecord();
    const broken = {
      ...rec,
      outcome: 'exploded' as never,
      turns: [...rec.turns, { role: 'agent', at: 'not a time', text: 'lost?' } as never],
    };
    const file = await w.write(broken);
    const [kept] = await readCallRecords(dirname(file));
    expect(kept).toMatchObject({ callId: 'AJ_5', room: 'r', outcome: 'failed' });
    expect(kept?.turns.map((x) => x.text)).toEqual(['hello']);
    expect(kept?.degraded?.problems).toEqual([
      expect.stringMatching(/^outcome: /),
      expect.stringMatching(/^turns\.1\.at: /),
    ]);
    // Nothing lost: the original, with the turn that did not validate, is kept whole.
    expect(kept?.degraded?.original).toContain('lost?');
  });

  it('a valid record passes salvage unchanged', () => {
    const rec = new CallTracker({ callId: 'AJ_6', room: 'r', agentName: 'a', caller }).toRecord();
    expect(salvageRecord(rec)).toEqual(CallRecordSchema.parse(rec));
  });
});

describe('readCallRecords', () => {
  const line = (callId: string) =>
    JSON.stringify(new CallTracker({ callId, room: 'r', agentName: 'a', caller }).toRecord());

  it('skips a torn last line (a write cut short) and says where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-rec-'));
    const whole = line('AJ_7');
    await writeFile(join(dir, 'calls-2026-01-01.jsonl'), `${whole}\n${whole.slice(0, 40)}`);
    const torn: string[] = [];
    const records = await readCallRecords(dir, { onTornLine: (f, n) => torn.push(`${f}:${n}`) });
    expect(records.map((r) => r.callId)).toEqual(['AJ_7']);
    expect(torn).toEqual(['calls-2026-01-01.jsonl:2']);
  });

  it('throws on a bad line in the middle of a file, naming file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-rec-'));
    await writeFile(
      join(dir, 'calls-2026-01-01.jsonl'),
      `${line('AJ_8')}\n{"x":\n${line('AJ_9')}\n`,
    );
    await expect(readCallRecords(dir)).rejects.toThrow(/calls-2026-01-01\.jsonl:2: not JSON/);
  });
});

describe('per-call options in the dispatch metadata', () => {
  it.each([
    [undefined, { ok: true, options: {} }],
    ['', { ok: true, options: {} }],
    ['{"maxCallDurationMs": 60000}', { ok: true, options: { maxCallDurationMs: 60000 } }],
  ])('parses %j', (metadata, expected) => {
    expect(parseCallOptions(metadata)).toEqual(expected);
  });

  it.each([
    ['not json', /not JSON/],
    ['{"maxCallDurationMs": 5}', /maxCallDurationMs/],
    ['{"maxCallDuration": 60000}', /maxCallDuration/],
  ])('rejects %j with a clear message', (metadata, message) => {
    const r = parseCallOptions(metadata);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});

describe('SilencePolicy', () => {
  it('prompts on the first silence, hangs up on the second in a row, and starts over when the caller speaks', async () => {
    const { SilencePolicy } = await import('../../src/conversation/silence-policy.js');
    const p = new SilencePolicy();
    expect(p.onSilence()).toBe('prompt');
    p.onCallerSpoke();
    expect(p.onSilence()).toBe('prompt');
    expect(p.onSilence()).toBe('hang_up');
  });
});
