/**
 * What a transfer attempt came to, as data: the agent's next words, the call record and the tools'
 * results all branch on `status`, never on error text.
 */
export type HandOffMethod = 'refer' | 'move' | 'bridge';

export type TransferFailureStatus =
  /** The human's line rang out or was unavailable. */
  | 'no_answer'
  | 'busy'
  /** The human (or their phone) said no. */
  | 'declined'
  | 'voicemail'
  /** The caller's side refused the REFER (final response or NOTIFY with an error status). */
  | 'refused'
  | 'timed_out'
  | 'human_hung_up'
  | 'caller_hung_up'
  /** Not possible for this caller, e.g. REFER for a browser user, who has no SIP dialog. */
  | 'not_possible'
  /** This line has no transfer destination configured. */
  | 'not_configured'
  | 'failed';

export type TransferOutcome =
  | { status: 'completed'; method: HandOffMethod }
  | { status: TransferFailureStatus; sipStatus?: number; detail: string };

export type TransferFailure = Extract<TransferOutcome, { detail: string }>;

/** The SIP status a LiveKit API error carries: in metadata (LiveKit Cloud) or its message (OSS). */
export function sipStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    sipStatusCode?: unknown;
    metadata?: Record<string, string>;
    message?: unknown;
  };
  if (typeof e.sipStatusCode === 'number') return e.sipStatusCode;
  const fromMeta = Number(e.metadata?.sip_status_code);
  if (Number.isInteger(fromMeta) && fromMeta >= 100) return fromMeta;
  const m = /sip status:? (\d{3})/i.exec(typeof e.message === 'string' ? e.message : '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function twirpCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  const message = (err as { message?: unknown } | null)?.message;
  const code = twirpCode(err);
  return (
    name === 'TimeoutError' ||
    code === 'deadline_exceeded' ||
    code === 'canceled' ||
    (typeof message === 'string' && /timed out|timeout/i.test(message))
  );
}

/**
 * What a failed CreateSIPParticipant came to, by its SIP status (livekit-sip puts it in the
 * message), or by a timeout when there is none: shared by transfers and placed calls.
 */
export function dialErrorKind(err: unknown): 'busy' | 'no_answer' | 'declined' | 'failed' {
  switch (sipStatusOf(err)) {
    case 486:
    case 600:
      return 'busy';
    case 408:
    case 480:
    case 487:
      return 'no_answer';
    case 403:
    case 603:
      return 'declined';
    case undefined:
      return isTimeout(err) ? 'no_answer' : 'failed';
    default:
      return 'failed';
  }
}

/** Dialling the human (CreateSIPParticipant) failed: why, for the caller and the record. */
export function dialFailure(err: unknown): TransferFailure {
  const sipStatus = sipStatusOf(err);
  const status: TransferFailureStatus = dialErrorKind(err);
  return {
    status,
    ...(sipStatus === undefined ? {} : { sipStatus }),
    detail: `dialling the human failed${sipStatus === undefined ? '' : ` with SIP ${sipStatus}`}`,
  };
}

/** REFER (TransferSIPParticipant) failed: refused with a SIP status, timed out, or failed. */
export function referFailure(err: unknown): TransferFailure {
  const sipStatus = sipStatusOf(err);
  if (sipStatus === 408 || sipStatus === 504 || (sipStatus === undefined && isTimeout(err)))
    return {
      status: 'timed_out',
      ...(sipStatus === undefined ? {} : { sipStatus }),
      detail: 'the REFER got no final answer in time',
    };
  if (sipStatus !== undefined)
    return { status: 'refused', sipStatus, detail: `the REFER was refused with SIP ${sipStatus}` };
  return { status: 'failed', detail: 'the REFER could not be sent' };
}
