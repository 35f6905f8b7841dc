import { z } from 'zod';
import { OUTBOUND_RESULTS, type OutboundOutcome } from './outcome.js';

/**
 * How the agent tells whoever placed the call what the dial came to: the room's metadata, under
 * one key. It reaches any API client (LiveKit Cloud or a self-hosted server) without a webhook or
 * a connection to the room, and it outlives the agent leaving: a room without participants stays
 * for its departure timeout, which `liveKitDialer` sets. The room's other metadata is kept.
 */
export const OUTCOME_METADATA_KEY = 'switchboard.outbound';

const ReportSchema = z.object({
  result: z.enum(OUTBOUND_RESULTS),
  sipStatus: z.number().int().optional(),
  detail: z.string(),
  ringingMs: z.number().nonnegative().optional(),
});

/** The room metadata with the outcome set, other keys of a JSON object kept. */
export function withOutcome(roomMetadata: string, outcome: OutboundOutcome): string {
  let base: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(roomMetadata);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      base = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (or empty): nothing of ours to keep; an application's plain text would be lost,
    // so it goes under its own key.
    if (roomMetadata.trim() !== '') base = { metadata: roomMetadata };
  }
  return JSON.stringify({ ...base, [OUTCOME_METADATA_KEY]: outcome });
}

/** The outcome in a room's metadata, or undefined while there is none (or it is not ours). */
export function outcomeIn(roomMetadata: string): OutboundOutcome | undefined {
  try {
    const parsed = JSON.parse(roomMetadata) as Record<string, unknown> | null;
    const report = ReportSchema.safeParse(parsed?.[OUTCOME_METADATA_KEY]);
    if (!report.success) return undefined;
    const { sipStatus, ringingMs, ...rest } = report.data;
    return {
      ...rest,
      ...(sipStatus === undefined ? {} : { sipStatus }),
      ...(ringingMs === undefined ? {} : { ringingMs }),
    };
  } catch {
    return undefined;
  }
}
