import { z } from 'zod';

/**
 * Typed messages from the caller (the `lk.chat` text stream of LiveKit's client SDKs). Off unless
 * a line asks for it: every message becomes an LLM turn, so it is bounded in size and ignored
 * while the caller is on hold or the call is ending.
 */
export const TextInputOptionsSchema = z
  .object({
    /** Longer messages are dropped unread past this. Unit: characters. */
    maxChars: z.number().int().min(1).max(4_000),
  })
  .strict();

export type TextInputOptions = z.infer<typeof TextInputOptionsSchema>;

/** The framework's chat topic (livekit-client `sendText` default, agents `TOPIC_CHAT`). */
export const CHAT_TOPIC = 'lk.chat';

/**
 * The line's text input, from its resolved options (`textInput`); undefined (off) when the line
 * sets none or sets it wrong.
 */
export function textInputOf(options: object): TextInputOptions | undefined {
  const parsed = TextInputOptionsSchema.safeParse((options as { textInput?: unknown }).textInput);
  return parsed.success ? parsed.data : undefined;
}

export type BoundedText = { ok: true; text: string } | { ok: false; reason: 'too_long' };

/**
 * Reads a text stream up to `maxChars`, and stops reading (the rest is never buffered) as soon as
 * it is longer.
 */
export async function readBoundedText(
  chunks: AsyncIterable<string>,
  maxChars: number,
): Promise<BoundedText> {
  let text = '';
  for await (const chunk of chunks) {
    text += chunk;
    if (text.length > maxChars) return { ok: false, reason: 'too_long' };
  }
  return { ok: true, text };
}
