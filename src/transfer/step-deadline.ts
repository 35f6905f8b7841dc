import type { TransferOptions } from './options.js';

/**
 * A transfer step that did not finish in time. A step that hangs (a model stream on the consult
 * leg, a server call that never answers) must not leave the caller on hold for ever.
 */
export class TransferStepTimeout extends Error {
  override readonly name = 'TransferStepTimeout';
  constructor(
    readonly step: string,
    readonly limitMs: number,
  ) {
    super(`the transfer's ${step} step did not finish within ${limitMs} ms`);
  }
}

/**
 * Limits for the steps that have no deadline of their own, and the margin given to those that
 * do (dialling rings for `ringingTimeoutMs`, the briefing waits `consultTimeoutMs`), for the SIP
 * and session set-up around them. Unit: ms.
 */
export const STEP_LIMITS_MS = {
  hold: 10_000,
  release: 10_000,
  notice: 15_000,
  cleanUp: 10_000,
  move: 15_000,
  bridge: 20_000,
  margin: 15_000,
} as const;

/**
 * The whole transfer's limit: every step at its own limit, one after the other. A transfer that
 * reaches it returns the caller to the agent whatever step it is in.
 */
export function transferDeadlineMs(options: TransferOptions): number {
  const m = STEP_LIMITS_MS;
  return (
    m.hold +
    options.ringingTimeoutMs +
    m.margin +
    options.consultTimeoutMs +
    m.margin +
    options.referTimeoutMs +
    m.margin +
    m.move +
    m.bridge +
    m.hold
  );
}

/** `work`, or a `TransferStepTimeout` after `limitMs`; the timer never outlives the step. */
export async function within<T>(work: Promise<T>, limitMs: number, step: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransferStepTimeout(step, limitMs)), limitMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
