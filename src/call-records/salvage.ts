import { z } from 'zod';
import { CallRecordSchema, type CallRecord } from './schema.js';

type Shape = typeof CallRecordSchema.shape;

/**
 * Stand-ins for required fields that did not validate. Plain and recognisable: a reader who
 * meets them also meets `degraded`, which names what was wrong.
 */
const REQUIRED_FALLBACKS = (now: string): { [K in keyof Shape]?: unknown } => ({
  version: 1,
  callId: 'unknown',
  room: 'unknown',
  agentName: 'unknown',
  caller: { channel: 'web', direction: 'inbound', identity: 'unknown', displayName: '' },
  startedAt: now,
  endedAt: now,
  outcome: 'failed',
  endReason: 'the call record did not validate; see degraded.problems',
  turns: [],
  toolCalls: [],
  turnTimings: [],
  transfers: [],
  bargeIns: [],
  usage: { sttAudioSeconds: 0, llmPromptTokens: 0, llmCompletionTokens: 0, ttsCharacters: 0 },
});

/**
 * A record that did not validate, kept as a valid, degraded one instead of being dropped: each
 * top-level field that validates on its own is kept (list items one by one), the rest fall back
 * to plain stand-ins, and `degraded` carries the problems and the original JSON.
 */
export function salvageRecord(input: unknown, now: Date = new Date()): CallRecord {
  const parsed = CallRecordSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const source = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  const fallbacks = REQUIRED_FALLBACKS(now.toISOString());
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(CallRecordSchema.shape) as [
    keyof Shape,
    z.ZodType,
  ][]) {
    if (key === 'degraded') continue;
    const value = source[key];
    const whole = schema.safeParse(value);
    if (whole.success && value !== undefined) {
      out[key] = whole.data;
      continue;
    }
    const list = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
    if (Array.isArray(value) && list instanceof z.ZodArray) {
      const element = list.element as z.ZodType;
      out[key] = value.flatMap((item) => {
        const one = element.safeParse(item);
        return one.success ? [one.data] : [];
      });
      continue;
    }
    if (fallbacks[key] !== undefined) out[key] = fallbacks[key];
  }
  out.degraded = {
    problems: parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`,
    ),
    original: safeJson(input),
  };
  return CallRecordSchema.parse(out);
}

function safeJson(value: unknown): string {
  try {
    // undefined for an undefined input, whatever the type says.
    const text = JSON.stringify(value) as string | undefined;
    return text ?? String(value);
  } catch {
    return String(value);
  }
}
