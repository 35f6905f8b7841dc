import { z } from 'zod';

/**
 * A call the agent places, in the dispatch's agent metadata (`outbound`): `npm run call`, the
 * library's `liveKitDialer` and campaigns put it there; a job with it dials instead of waiting for
 * a caller. Numbers are E.164 (a leading +, 7 to 15 digits), as carriers route them.
 */
const e164 = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'an E.164 number, e.g. +15550123456');

export const OnMachine = z.enum(['hang_up', 'leave_message']);
export type OnMachine = z.infer<typeof OnMachine>;

export const AnsweringMachineOptionsSchema = z
  .object({
    /** Tell a person from an answering machine in the first seconds. Default: on. */
    enabled: z.boolean().default(true),
    /** On a machine: hang up, or wait for the beep and speak `message`. Default: hang_up. */
    onMachine: OnMachine.default('hang_up'),
    /** What the agent leaves on a machine (plain text, spoken once, then it hangs up). */
    message: z.string().trim().min(1).max(1_000).optional(),
    /**
     * After the machine's greeting, how long to wait for its beep before speaking anyway: some
     * mailboxes never beep. Unit: ms. Default: 5000.
     */
    beepTimeoutMs: z.number().int().min(0).max(30_000).default(5_000),
    /**
     * With no speech at all this long after the answer, detection gives up ("uncertain") and
     * the call goes on as answered; the agent greets (see waitForCalleeMs). Unit: ms. Default: 3000.
     */
    noSpeechTimeoutMs: z.number().int().min(1_000).max(30_000).default(3_000),
    /**
     * With no verdict this long after the answer, detection settles "uncertain" (the call goes on
     * as answered) at the callee's next pause. While it runs the agent does not reply: a person
     * whose greeting could not be classified waits this long. Unit: ms. Default: 6000.
     */
    detectionTimeoutMs: z.number().int().min(2_000).max(60_000).default(6_000),
    /**
     * Silence after a short first utterance (under 2.5 s) that makes it a person's "hello?". The
     * framework's 500 ms took a mailbox's first sentence ("you have reached our voicemail", then a
     * 600 ms pause) for a person before its transcript arrived; 800 ms lets the recognizer's
     * transcript reach the classifier first. Unit: ms. Default: 800.
     */
    humanSilenceMs: z.number().int().min(200).max(5_000).default(800),
    /**
     * Silence after longer or transcribed speech before the classifier's verdict is released (a
     * machine's also waits for the end of the turn). The framework's 1500 ms made every person
     * who said "hello?" wait that long for the agent. Unit: ms. Default: 1000.
     */
    machineSilenceMs: z.number().int().min(200).max(5_000).default(1_000),
  })
  .strict()
  .refine((a) => a.onMachine !== 'leave_message' || a.message !== undefined, {
    message: 'onMachine "leave_message" needs the message to leave: set answeringMachine.message',
    path: ['message'],
  });

export const OutboundOptionsSchema = z
  .object({
    /** The number to dial. */
    to: e164,
    /** The outbound trunk's name (as sip-dispatch provisions it), looked up on the server. Or: */
    trunk: z.string().min(1).optional(),
    /** The outbound trunk's server ID (ST_…). */
    trunkId: z.string().min(1).optional(),
    /** Caller ID: one of the trunk's numbers. Default: the trunk picks one. */
    from: e164.optional(),
    /** How long the callee's phone may ring. Unit: ms. Default: 30000. */
    ringingTimeoutMs: z.number().int().min(5_000).max(180_000).default(30_000),
    /**
     * After the answer, how long the agent waits for the callee to speak first (people answer
     * with "hello?"); then it greets anyway. Unit: ms. Default: 3000.
     */
    waitForCalleeMs: z.number().int().min(0).max(15_000).default(3_000),
    answeringMachine: AnsweringMachineOptionsSchema.default({
      enabled: true,
      onMachine: 'hang_up',
      beepTimeoutMs: 5_000,
      noSpeechTimeoutMs: 3_000,
      detectionTimeoutMs: 6_000,
      humanSilenceMs: 800,
      machineSilenceMs: 1_000,
    }),
  })
  .strict()
  .refine((o) => (o.trunk === undefined) !== (o.trunkId === undefined), {
    message: 'set exactly one of trunk (the outbound trunk name) and trunkId (ST_…)',
    path: ['trunk'],
  });

export type OutboundOptions = z.infer<typeof OutboundOptionsSchema>;
export type OutboundOptionsInput = z.input<typeof OutboundOptionsSchema>;
