import { llm } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { CallOptionsSchema, parseCallOptions } from '../../src/dispatch/index.js';
import {
  DEFAULT_TURN_TAKING,
  endOfTurnProbability,
  LEXICAL_UNLIKELY_THRESHOLD,
  LexicalTurnDetector,
  onsetPauseOptions,
  resolveTurnTaking,
  sessionTurnOptions,
} from '../../src/turns/index.js';

describe('the lexical end-of-turn detector', () => {
  it.each([
    ['what are your opening hours', true],
    ['my account number is', false],
    ['book an appointment for', false],
    ['i would like to', false],
    ['I want to speak to a person.', true],
    ['and', false],
    ['um', false],
    ['four five six', true],
    ['Is it open on Sunday?', true],
    ['', true],
  ])('"%s" finished: %s', (text, finished) => {
    expect(endOfTurnProbability(text) >= LEXICAL_UNLIKELY_THRESHOLD).toBe(finished);
  });

  it("reads the caller's latest words from the chat the framework passes it", async () => {
    const chat = new llm.ChatContext();
    chat.addMessage({ role: 'assistant', content: 'How can I help?' });
    chat.addMessage({ role: 'user', content: 'my account number is' });
    const detector = new LexicalTurnDetector();
    expect(await detector.predictEndOfTurn(chat)).toBeLessThan(await detector.unlikelyThreshold());
    expect(await detector.supportsLanguage('en')).toBe(true);
    expect(await detector.supportsLanguage('de')).toBe(false);
  });
});

describe('turn-taking options', () => {
  it('layers the channel defaults, the agent and the line', () => {
    const t = resolveTurnTaking(
      'phone',
      { phone: { maxEndpointingMs: 2_000 }, web: { vadSilenceMs: 500 } },
      { vadSilenceMs: 400 },
    );
    expect(t).toEqual({ ...DEFAULT_TURN_TAKING.phone, maxEndpointingMs: 2_000, vadSilenceMs: 400 });
  });

  it('refuses an endpointing maximum below the minimum', () => {
    expect(() => resolveTurnTaking('web', {}, { maxEndpointingMs: 100 })).toThrow(
      /maxEndpointingMs \(100\) is below minEndpointingMs/,
    );
  });

  it.each([
    [{ detector: 'lexical' as const }, 'object'],
    [{ detector: 'audio_model' as const }, 'object'],
    [{ detector: 'vad' as const }, 'vad'],
  ])('maps detector %o to the framework', (change, kind) => {
    const opts = sessionTurnOptions({ ...DEFAULT_TURN_TAKING.phone, ...change });
    const detection = opts.turnHandling.turnDetection;
    expect(typeof detection === 'string' ? detection : typeof detection).toBe(kind);
  });

  it('maps every field to the framework option it stands for', () => {
    const opts = sessionTurnOptions({
      detector: 'vad',
      vadSilenceMs: 350,
      minEndpointingMs: 200,
      maxEndpointingMs: 1_200,
      interruptionMinSpeechMs: 180,
      onsetPauseProbability: 0.4,
      interruptionMinWords: 1,
      falseInterruptionMs: 0,
      preemptiveGeneration: true,
      preemptiveTts: false,
      echoWarmupMs: 0,
    });
    expect(opts).toEqual({
      turnHandling: {
        turnDetection: 'vad',
        endpointing: { mode: 'fixed', minDelay: 200, maxDelay: 1_200 },
        interruption: {
          enabled: true,
          mode: 'vad',
          minDuration: 180,
          minWords: 1,
          resumeFalseInterruption: false,
        },
        preemptiveGeneration: { enabled: true, preemptiveTts: false },
      },
      aecWarmupDuration: null,
      vadMinSilenceMs: 350,
    });
    expect(sessionTurnOptions(DEFAULT_TURN_TAKING.web).aecWarmupDuration).toBe(3_000);
  });

  it.each([
    ['{"turnTaking": {"vadSilenceMs": 100}}', /turnTaking\.vadSilenceMs/],
    ['{"turnTaking": {"detector": "magic"}}', /turnTaking\.detector/],
    ['{"turnTaking": {"vadSilence": 300}}', /Unrecognized key: "vadSilence"/],
    ['{"turnTaking": {"preemptiveTts": "yes"}}', /turnTaking\.preemptiveTts/],
    ['{"turnTaking": {"onsetPauseProbability": 1.5}}', /turnTaking\.onsetPauseProbability/],
  ])('rejects line metadata %s, naming the field', (metadata, message) => {
    const r = parseCallOptions(metadata);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(message);
  });

  it.each([
    [{}, { onsetProbability: 0.5, confirmMs: 264, echoWarmupMs: 0 }],
    [{ onsetPauseProbability: 0 }, undefined],
    [{ interruptionMinWords: 2 }, undefined],
    [{ interruptionMinSpeechMs: 301 }, undefined],
    [
      { interruptionMinSpeechMs: 900, vadSilenceMs: 1_000 },
      { onsetProbability: 0.5, confirmMs: 1_100, echoWarmupMs: 0 },
    ],
    [
      { onsetPauseProbability: 0.3, interruptionMinSpeechMs: 300, echoWarmupMs: 1_000 },
      { onsetProbability: 0.3, confirmMs: 500, echoWarmupMs: 1_000 },
    ],
  ])('the onset pause of phone defaults changed by %o: %o', (change, expected) => {
    expect(onsetPauseOptions({ ...DEFAULT_TURN_TAKING.phone, ...change })).toEqual(expected);
  });

  it('accepts a line that changes its turn-taking', () => {
    expect(
      CallOptionsSchema.parse({ turnTaking: { maxEndpointingMs: 2_500, detector: 'audio_model' } }),
    ).toEqual({ turnTaking: { maxEndpointingMs: 2_500, detector: 'audio_model' } });
  });
});
