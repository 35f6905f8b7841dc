import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSippTrace, type TracedSipMessage } from './sipp.js';
import { layout } from './stack-env.js';

/**
 * A caller that expects to be turned away: SIPp sends INVITE and reports the final response,
 * whatever it is. A 2xx (the call was answered after all) is acknowledged and hung up at once;
 * a 4xx-6xx is acknowledged as RFC 3261 asks. test/sipp/caller.xml treats any final response but
 * 200 as a failed scenario, so the outcomes of a full or draining worker are read here.
 */
const SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="switchboard busy caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Test Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[media_ip_type] [media_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="180" optional="true" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="183" optional="true" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="200" optional="true" next="answered" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="486" optional="true" next="rejected" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="503" optional="true" next="rejected" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>
  <recv response="480" next="rejected" timeout="@@TIMEOUT_MS@@" ontimeout="noanswer"/>

  <label id="rejected"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-7]
      From: "Test Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop next="end"/>

  <label id="answered"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Test Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Test Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <nop next="end"/>

  <label id="noanswer"/>
  <nop><action><log message="RESULT=noanswer"/></action></nop>
  <label id="end"/>
</scenario>
`;

export interface TurnedAwayCall {
  /** The final response's status line, e.g. "SIP/2.0 486 Busy Here"; undefined if none came. */
  finalResponse?: string;
  /** Milliseconds from starting SIPp to the final response (or to giving up). */
  elapsedMs: number;
  messages: TracedSipMessage[];
}

export async function placeCallExpectingRefusal(opts: {
  called: string;
  caller: string;
  sipPort: number;
  mediaPort: number;
  timeoutMs: number;
}): Promise<TurnedAwayCall> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sipp-busy-'));
  const scenario = join(dir, 'busy-caller.xml');
  await writeFile(scenario, SCENARIO.replaceAll('@@TIMEOUT_MS@@', String(opts.timeoutMs)));
  const messageFile = join(dir, 'messages.log');
  const started = performance.now();
  const child = spawn(
    'sipp',
    [
      `${layout.serviceIp}:${layout.ports.sip}`,
      '-sf',
      scenario,
      '-s',
      opts.called,
      '-i',
      layout.serviceIp,
      '-p',
      String(opts.sipPort),
      '-mi',
      layout.serviceIp,
      '-mp',
      String(opts.mediaPort),
      '-key',
      'caller',
      opts.caller,
      '-m',
      '1',
      '-nostdin',
      '-timeout',
      `${Math.ceil(opts.timeoutMs / 1000) + 20}s`,
      '-timeout_error',
      '-trace_msg',
      '-message_file',
      messageFile,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  const elapsedMs = performance.now() - started;
  let trace = '';
  try {
    trace = await readFile(messageFile, 'utf8');
  } catch {
    throw new Error(`sipp wrote no trace (exit ${exitCode}): ${stderr.trim()}`);
  }
  const messages = parseSippTrace(trace);
  const finalResponse = messages.find(
    (m) => m.direction === 'received' && /^SIP\/2\.0 [2-6]\d\d/.test(m.startLine),
  )?.startLine;
  return { ...(finalResponse === undefined ? {} : { finalResponse }), elapsedMs, messages };
}
