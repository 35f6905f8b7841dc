import { z } from 'zod';

/** One transfer attempt in the call record: what was tried, how it ended, where the time went. */
export const TransferRecordSchema = z.object({
  kind: z.enum(['warm', 'cold']),
  /** The number dialled or the REFER target: PII, kept in the record only. */
  destination: z.string(),
  reason: z.string().optional(),
  status: z.string(),
  method: z.enum(['refer', 'move', 'bridge']).optional(),
  sipStatus: z.number().int().optional(),
  detail: z.string().optional(),
  /** Each hand-off tried after the human accepted, in order. */
  handOffAttempts: z.array(
    z.object({
      method: z.enum(['refer', 'move', 'bridge']),
      status: z.string(),
      sipStatus: z.number().int().optional(),
    }),
  ),
  /** The consult leg as said: the agent's briefing and notices, the human's transcribed replies. */
  consult: z.array(z.object({ role: z.enum(['agent', 'human']), text: z.string() })),
  startedAt: z.iso.datetime(),
  acceptedAt: z.iso.datetime().optional(),
  connectedAt: z.iso.datetime().optional(),
  /** Unit: ms. hold = caller on hold; ring = dial to answer; consult = answer to decision; handOff = decision to connected. */
  phases: z.object({
    holdMs: z.number().nonnegative().optional(),
    ringMs: z.number().nonnegative().optional(),
    consultMs: z.number().nonnegative().optional(),
    handOffMs: z.number().nonnegative().optional(),
  }),
});
export type TransferRecord = z.infer<typeof TransferRecordSchema>;
