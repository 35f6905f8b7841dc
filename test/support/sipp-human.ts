import { runScenario, type SippResult } from './sipp.js';

/**
 * The human a warm transfer dials, played by SIPp as a UAS on the outbound trunk's address.
 *   answer     rings `ringMs`, answers with a G.711 stream of `mediaFile`, runs `afterAnswer`
 *              (keypad presses, or hangUpAfterMs), and waits for livekit-sip's BYE
 *   busy       486 Busy Here
 *   decline    603 Decline
 *   no_answer  rings until livekit-sip gives up (CANCEL), then 487
 */
export interface SippHuman {
  behaviour: 'answer' | 'busy' | 'decline' | 'no_answer';
  localIp: string;
  sipPort: number;
  mediaPort: number;
  /** Port the SDP advertises, where an RtpMeter listens for what the human hears. */
  recordPort: number;
  mediaFile: string;
  ringMs: number;
  /** Scenario steps after the answer, e.g. dtmfSteps('1', 2000). */
  afterAnswer?: string;
  /** Hang up this long after answering (instead of waiting for BYE). */
  hangUpAfterMs?: number;
  /** How long the whole scenario may take. */
  timeoutMs: number;
  /** Calls to take (one SIPp for many, several at once if they come so). Default: 1. */
  calls?: number;
}

const RESPONSE_HEADERS = `[last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]`;

/** 200 OK to the request just received (BYE, CANCEL), inside its own dialog. */
const OK_TO_LAST_REQUEST = `<send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>`;

function answerSteps(h: SippHuman): string {
  const hangUp =
    h.hangUpAfterMs === undefined
      ? ''
      : `<pause milliseconds="${h.hangUpAfterMs}"/>\n  <nop next="hangup"/>`;
  return `<pause milliseconds="${h.ringMs}"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      ${RESPONSE_HEADERS}
      [last_CSeq:]
      Contact: <sip:human@[local_ip]:[local_port]>
      Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 3 3 IN IP[media_ip_type] [media_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [recport] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv

  ]]></send>
  <recv request="ACK" crlf="true"/>
  <nop><action><log message="RESULT=answered"/></action></nop>
  <nop><action><exec rtp_stream="${h.mediaFile},-1,0"/></action></nop>
  ${h.afterAnswer ?? ''}
  ${hangUp}
  <recv request="BYE" timeout="${h.timeoutMs}" ontimeout="hangup"/>
  <nop><action><log message="HANGUP=remote"/></action></nop>
  ${OK_TO_LAST_REQUEST}
  <nop next="end"/>
  <label id="hangup"/>
  <nop><action><log message="HANGUP=local"/></action></nop>
  <send retrans="500"><![CDATA[

      BYE [$lk_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:human@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$lk_from]
      Call-ID: [call_id]
      CSeq: [cseq] BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>`;
}

/** A final error response to the INVITE (486 Busy Here, 603 Decline), logged as RESULT=<result>. */
function rejectSteps(status: string, result: string): string {
  return `<send><![CDATA[

      SIP/2.0 ${status}
      ${RESPONSE_HEADERS}
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <recv request="ACK" crlf="true"/>
  <nop><action><log message="RESULT=${result}"/></action></nop>`;
}

// livekit-sip v1.8.0 sends no ACK for the 487 that answers its CANCEL (seen on the wire), so the
// scenario waits for it briefly, not forever.
function noAnswerSteps(h: SippHuman): string {
  return `<recv request="CANCEL" timeout="${h.timeoutMs}"/>
  ${OK_TO_LAST_REQUEST}
  <send><![CDATA[

      SIP/2.0 487 Request Terminated
      ${RESPONSE_HEADERS}
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0

  ]]></send>
  <nop><action><log message="RESULT=cancelled"/></action></nop>
  <recv request="ACK" crlf="true" timeout="2000" ontimeout="end"/>`;
}

export function runSippHuman(h: SippHuman, signal?: AbortSignal): Promise<SippResult> {
  const answer =
    h.behaviour === 'answer'
      ? answerSteps(h)
      : h.behaviour === 'busy'
        ? rejectSteps('486 Busy Here', 'busy')
        : h.behaviour === 'decline'
          ? rejectSteps('603 Decline', 'declined')
          : noAnswerSteps(h);
  return runScenario(
    'human.xml',
    { '@@ANSWER@@': answer },
    [
      '-i',
      h.localIp,
      '-p',
      String(h.sipPort),
      '-mi',
      h.localIp,
      '-mp',
      String(h.mediaPort),
      '-key',
      'recport',
      String(h.recordPort),
    ],
    Math.ceil(h.timeoutMs / 1000) + 30,
    signal,
    h.calls ?? 1,
  );
}
