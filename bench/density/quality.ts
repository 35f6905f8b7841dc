/**
 * The density benchmark's quality measures and its stop rule, as pure functions over times on one
 * clock (performance.now(), ms): when each caller question was said, and when the agent's loud
 * RTP packets reached that caller (test/support/rtp-meter.ts). Covered by
 * test/unit/density-pss.test.ts.
 */

/** Nearest-rank percentile, as the other benchmarks compute it; NaN for no values. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** One caller question: when it started and ended at the caller, and until when it may be answered. */
export interface Question {
  startMs: number;
  endMs: number;
  /** The next question's start: an answer must begin before it. */
  deadlineMs: number;
}

/**
 * The questions of a call whose audio loops: `lines` (seconds from the start of the audio, as
 * renderConversation reports them) repeated every `cycleMs` from `audioStartMs`, limited to those
 * that ended at or after `fromMs` and whose deadline is at or before `toMs` (their whole time to
 * be answered lies inside the window).
 */
export function questionsInWindow(
  audioStartMs: number,
  cycleMs: number,
  lines: readonly { startS: number; endS: number }[],
  fromMs: number,
  toMs: number,
): Question[] {
  if (cycleMs <= 0 || lines.length === 0) return [];
  const all: { startMs: number; endMs: number }[] = [];
  const lastCycle = Math.ceil((toMs - audioStartMs) / cycleMs) + 1;
  for (let k = 0; k <= lastCycle; k++) {
    for (const line of lines)
      all.push({
        startMs: audioStartMs + k * cycleMs + line.startS * 1000,
        endMs: audioStartMs + k * cycleMs + line.endS * 1000,
      });
  }
  all.sort((a, b) => a.startMs - b.startMs);
  const out: Question[] = [];
  for (let i = 0; i + 1 < all.length; i++) {
    const q = all[i];
    const next = all[i + 1];
    if (q === undefined || next === undefined) continue;
    if (q.endMs >= fromMs && next.startMs <= toMs) out.push({ ...q, deadlineMs: next.startMs });
  }
  return out;
}

export interface Turn {
  question: Question;
  /** End of the question -> the first loud packet of the answer; undefined: unanswered. */
  latencyMs?: number;
  /**
   * The longest time between two loud packets of the answer (from its first loud packet to the
   * last one before the deadline): the pauses of the agent's speech, and any hole in its audio.
   */
  longestQuietMs?: number;
}

/**
 * An answer starts at a loud packet after the question ended, before its deadline, with no loud
 * packet in the `quietBeforeMs` before it: audio still playing from an earlier answer across the
 * question's end is not taken for the answer. 600 ms is bench/turns.ts's "stopped" gap: longer
 * than the pauses inside the agent's sentences.
 */
export function answerTurns(
  questions: readonly Question[],
  loudMs: readonly number[],
  quietBeforeMs = 600,
): Turn[] {
  return questions.map((question) => {
    let onsetIndex = -1;
    for (let i = 0; i < loudMs.length; i++) {
      const t = loudMs[i] ?? NaN;
      if (t <= question.endMs) continue;
      if (t >= question.deadlineMs) break;
      const before = i > 0 ? (loudMs[i - 1] ?? -Infinity) : -Infinity;
      if (t - before >= quietBeforeMs) {
        onsetIndex = i;
        break;
      }
    }
    const onset = loudMs[onsetIndex];
    if (onsetIndex < 0 || onset === undefined) return { question };
    let longestQuietMs = 0;
    for (let i = onsetIndex + 1; i < loudMs.length; i++) {
      const t = loudMs[i] ?? NaN;
      if (t >= question.deadlineMs) break;
      longestQuietMs = Math.max(longestQuietMs, t - (loudMs[i - 1] ?? t));
    }
    return { question, latencyMs: onset - question.endMs, longestQuietMs };
  });
}

/** What one step (n calls at once) measured over its window. */
export interface StepQuality {
  calls: number;
  /** Turns whose answer time lay inside the window, over all calls. */
  turns: number;
  unanswered: number;
  latencyP95Ms: number;
  /** The longest time without any RTP packet at any caller inside the window. */
  longestGapMs: number;
  /** Calls of this step that were never answered (SIPp's answer timeout). */
  callsNotAnswered: number;
  /** Calls that ended before the benchmark hung up (the agent, the job or livekit-sip ended them). */
  callsDropped: number;
}

export interface Limits {
  /** Turn latency p95 above this many times the single-call figure breaks the limit. */
  latencyFactor: number;
  /** A gap in the RTP at a caller longer than this breaks it. Unit: ms. */
  maxGapMs: number;
}

export const ISSUE_LIMITS: Limits = { latencyFactor: 1.5, maxGapMs: 100 };

export type Limit =
  | 'latency p95'
  | 'RTP gap'
  | 'turn unanswered'
  | 'no turn measured'
  | 'call not answered'
  | 'call dropped';

/**
 * The limits a step breaks. `referenceP95Ms` is the single-call figure (the first step's p95); the
 * first step is not held against itself. A step with no turn inside its window cannot show its
 * latency: it counts as broken, so a window too short for the question interval never passes.
 */
export function brokenLimits(
  step: StepQuality,
  referenceP95Ms: number,
  limits: Limits = ISSUE_LIMITS,
): Limit[] {
  const broken: Limit[] = [];
  if (step.callsNotAnswered > 0) broken.push('call not answered');
  if (step.callsDropped > 0) broken.push('call dropped');
  if (step.turns === 0) broken.push('no turn measured');
  if (step.unanswered > 0) broken.push('turn unanswered');
  if (
    step.calls > 1 &&
    Number.isFinite(referenceP95Ms) &&
    step.latencyP95Ms > limits.latencyFactor * referenceP95Ms
  )
    broken.push('latency p95');
  if (step.longestGapMs > limits.maxGapMs) broken.push('RTP gap');
  return broken;
}

/**
 * Calls held: the most calls at once with every limit met, counting up from one; the steps stop
 * at the first that breaks a limit, so that is the step before it (0 when the first call already
 * broke one), or the last step when none broke.
 */
export function callsHeld(steps: readonly { calls: number; broken: readonly Limit[] }[]): number {
  let held = 0;
  for (const step of steps) {
    if (step.broken.length > 0) break;
    held = step.calls;
  }
  return held;
}

/** Per-call share of a resource: (at n calls - idle) / n; NaN without a call. */
export function perCall(atN: number, idle: number, n: number): number {
  return n > 0 ? (atN - idle) / n : NaN;
}
