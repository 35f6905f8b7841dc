import { z } from 'zod';

/**
 * Where and how this call may be transferred, per call, in the dispatch's agent metadata (the
 * dispatch rule of the line, or the web token's room configuration): different lines can lead to
 * different desks. Without it the agent offers no transfer.
 */
const phoneNumber = z.string().regex(/^\+?[0-9]{3,15}$/, 'digits, optionally starting with +');
const transferUri = z
  .string()
  .regex(/^(sips?:[^\s<>]+|tel:\+?[0-9*#-]{3,32})$/, 'a sip:, sips: or tel: URI');

export const HandOffStrategy = z.enum(['refer_first', 'bridge_first', 'bridge_only']);
export type HandOffStrategy = z.infer<typeof HandOffStrategy>;

export const TransferOptionsSchema = z
  .object({
    /** The human for a warm transfer: dialled through an outbound trunk, briefed, then handed the caller. */
    human: z
      .object({
        number: phoneNumber,
        /** The outbound trunk's server ID (ST_…). Or: */
        outboundTrunkId: z.string().min(1).optional(),
        /**
         * The outbound trunk's name, looked up on the server at each transfer: what sip-dispatch
         * provisions (its config key, unless the entry sets `name`), and it survives re-creation.
         */
        outboundTrunk: z.string().min(1).optional(),
        /** Where a SIP caller is REFERred on hand-off. Default: `tel:<number>`. */
        referTo: transferUri.optional(),
        /** Digits sent after the human's line answers (extension, IVR menu); `w` waits 0.5 s. */
        dtmf: z
          .string()
          .regex(/^[0-9*#w]{1,32}$/)
          .optional(),
        /** Caller ID shown to the human. Default: one of the outbound trunk's numbers. */
        fromNumber: phoneNumber.optional(),
      })
      .strict()
      .refine((h) => (h.outboundTrunkId === undefined) !== (h.outboundTrunk === undefined), {
        message:
          'set exactly one of outboundTrunk (the trunk name, e.g. as in sip-dispatch) and outboundTrunkId (ST_…)',
        path: ['outboundTrunk'],
      })
      .optional(),
    /** Target of a cold (blind) transfer: the caller is REFERred there directly. */
    coldTarget: transferUri.optional(),
    /** How an accepted warm transfer reaches the human: REFER, or a bridge in LiveKit. */
    strategy: HandOffStrategy.default('refer_first'),
    /** How long the human's line may ring. Unit: ms. */
    ringingTimeoutMs: z.number().int().min(1_000).max(120_000).default(30_000),
    /** How long the human has to accept after answering. Unit: ms. */
    consultTimeoutMs: z.number().int().min(5_000).max(300_000).default(60_000),
    /** How long a REFER may take until its final NOTIFY (livekit-sip's own limit is 30 s). Unit: ms. */
    referTimeoutMs: z.number().int().min(1_000).max(30_000).default(20_000),
  })
  .strict();

export type TransferOptions = z.infer<typeof TransferOptionsSchema>;
