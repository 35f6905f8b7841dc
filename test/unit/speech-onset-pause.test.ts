/**
 * The pause at the first window of caller speech: when it pauses, when it hands the stop to the
 * framework, when it resumes, and the cases where it must not pause. Time is faked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SpeechOnsetPause, type OnsetSpeech, type VadWindow } from '../../src/turns/index.js';

/** A window as the VAD reports it: by default one that continues a run of speech windows. */
function win(probability: number, over: Partial<VadWindow> = {}): VadWindow {
  return { probability, speaking: false, accumulatedSpeechMs: 32, ...over };
}

function speech(
  over: Partial<{ allowInterruptions: boolean; interrupted: boolean; done: boolean }> = {},
) {
  const s = { allowInterruptions: true, interrupted: false, isDone: false, ...over };
  return Object.assign(s, { done: () => s.isDone || over.done === true }) as OnsetSpeech & {
    interrupted: boolean;
    isDone: boolean;
  };
}

function setUp(opts: { echoWarmupMs?: number; output?: boolean } = {}) {
  const output = { pause: vi.fn(), resume: vi.fn() };
  const settled: boolean[] = [];
  const pause = new SpeechOnsetPause({
    onsetProbability: 0.3,
    confirmMs: 264,
    echoWarmupMs: opts.echoWarmupMs ?? 0,
    output: () => (opts.output === false ? null : output),
    onSettled: (confirmed) => settled.push(confirmed),
  });
  const playing = speech();
  pause.speechCreated(playing);
  pause.agentState('speaking');
  return { pause, output, playing, settled };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the onset pause', () => {
  it('pauses on the first window that looks like speech, and resumes if the framework never stops the agent', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.1));
    expect(output.pause).not.toHaveBeenCalled();
    pause.window(win(0.37));
    expect(output.pause).toHaveBeenCalledOnce();
    expect(pause.heldSince).toBe(Date.now());
    vi.advanceTimersByTime(263);
    expect(output.resume).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(output.resume).toHaveBeenCalledOnce();
    expect(pause.heldSince).toBeUndefined();
    expect(settled).toEqual([false]);
  });

  it('leaves the stop to the framework once it has stopped the agent', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.6));
    // The framework paused the same speech: the agent is listening, its speech neither
    // interrupted nor done.
    pause.agentState('listening');
    vi.advanceTimersByTime(10_000);
    expect(output.resume).not.toHaveBeenCalled();
    expect(settled).toEqual([true]);
  });

  it.each([
    ['interrupted', { interrupted: true }],
    ['done', { isDone: true }],
  ])('reopens the output when the paused speech was %s instead', (_name, change) => {
    const { pause, output, playing, settled } = setUp();
    pause.window(win(0.6));
    Object.assign(playing, change);
    pause.agentState('listening');
    expect(output.resume).toHaveBeenCalledOnce();
    vi.advanceTimersByTime(10_000);
    expect(output.resume).toHaveBeenCalledOnce();
    expect(settled).toEqual([false]);
  });

  it('resumes as soon as the VAD gives up on the sound: a click', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.6, { accumulatedSpeechMs: 0 }));
    // The click's window counted toward a speech start; the next is below the VAD's threshold.
    pause.window(win(0.1, { accumulatedSpeechMs: 32 }));
    expect(output.resume).not.toHaveBeenCalled();
    pause.window(win(0.1, { accumulatedSpeechMs: 0 }));
    expect(output.resume).toHaveBeenCalledOnce();
    expect(pause.heldSince).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    expect(output.resume).toHaveBeenCalledOnce();
    expect(settled).toEqual([false]);
  });

  it('holds through a dip that speech follows, and hands the stop to the framework', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.6, { accumulatedSpeechMs: 0 }));
    pause.window(win(0.2, { accumulatedSpeechMs: 32 }));
    // The dip broke the VAD's run, but this window is speech again.
    pause.window(win(0.7, { accumulatedSpeechMs: 0 }));
    pause.window(win(0.8, { accumulatedSpeechMs: 32 }));
    expect(output.resume).not.toHaveBeenCalled();
    pause.agentState('listening');
    expect(output.resume).not.toHaveBeenCalled();
    expect(settled).toEqual([true]);
  });

  it('holds while the VAD calls it speech, and resumes when that speech ends without a stop', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.6, { accumulatedSpeechMs: 0 }));
    pause.window(win(0.1, { speaking: true, accumulatedSpeechMs: 0 }));
    expect(output.resume).not.toHaveBeenCalled();
    pause.window(win(0.1, { speaking: false, accumulatedSpeechMs: 0 }));
    expect(output.resume).toHaveBeenCalledOnce();
    expect(settled).toEqual([false]);
  });

  it('reopens the output when the agent goes on to think (its speech played out), not to listen', () => {
    const { pause, output, settled } = setUp();
    pause.window(win(0.6));
    pause.agentState('thinking');
    expect(output.resume).toHaveBeenCalledOnce();
    expect(settled).toEqual([false]);
  });

  it('pauses once for a noise that lasts, again after a window below the onset', () => {
    const { pause, output } = setUp();
    pause.window(win(0.5));
    vi.advanceTimersByTime(264);
    pause.window(win(0.5));
    pause.window(win(0.45));
    expect(output.pause).toHaveBeenCalledOnce();
    pause.window(win(0.05));
    pause.window(win(0.5));
    expect(output.pause).toHaveBeenCalledTimes(2);
  });

  it.each([
    ['the agent is not speaking', (t: ReturnType<typeof setUp>) => t.pause.agentState('listening')],
    [
      'the speech cannot be interrupted',
      (t: ReturnType<typeof setUp>) => t.pause.speechCreated(speech({ allowInterruptions: false })),
    ],
    [
      'the speech was interrupted',
      (t: ReturnType<typeof setUp>) => t.pause.speechCreated(speech({ interrupted: true })),
    ],
    ['the call is closing', (t: ReturnType<typeof setUp>) => t.pause.close()],
  ])('does not pause when %s', (_name, change) => {
    const t = setUp();
    change(t);
    t.pause.window(win(0.9));
    expect(t.output.pause).not.toHaveBeenCalled();
  });

  it('does not pause without an output', () => {
    const { pause } = setUp({ output: false });
    pause.window(win(0.9));
    expect(pause.heldSince).toBeUndefined();
  });

  it("waits out the echo warm-up, counted in the agent's speech", () => {
    const { pause, output } = setUp({ echoWarmupMs: 3_000 });
    vi.advanceTimersByTime(2_000);
    pause.window(win(0.9));
    pause.window(win(0.1));
    pause.agentState('listening');
    // Time the agent is silent does not count.
    vi.advanceTimersByTime(5_000);
    pause.agentState('speaking');
    vi.advanceTimersByTime(999);
    pause.window(win(0.9));
    pause.window(win(0.1));
    expect(output.pause).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    pause.window(win(0.9));
    expect(output.pause).toHaveBeenCalledOnce();
  });

  it.each([0, -0.1, 1.1, Number.NaN])('refuses an onset probability of %s', (p) => {
    expect(
      () =>
        new SpeechOnsetPause({
          onsetProbability: p,
          confirmMs: 1,
          echoWarmupMs: 0,
          output: () => null,
        }),
    ).toThrow(/onsetProbability/);
  });
});
