import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');

export interface SippCall {
  /** The number dialled: the INVITE's Request-URI user. */
  called: string;
  /** The caller's number: the From user. */
  caller: string;
  /** livekit-sip's address. */
  target: { host: string; port: number };
  /** Address SIPp binds (signalling and media). */
  localIp: string;
  sipPort: number;
  mediaPort: number;
  /** Port the SDP advertises, where an RtpMeter listens. */
  recordPort: number;
  /** Raw G.711 µ-law file streamed to livekit-sip in a loop. */
  mediaFile: string;
  answerTimeoutMs: number;
  /** How long the caller stays on the line before hanging up, unless the far end hangs up first. */
  holdMs: number;
  /** Scenario steps inserted right after the answer (see dtmfSteps). */
  afterAnswer?: string;
  /**
   * What the phone does with a REFER from livekit-sip: accept it (202, then NOTIFY 100 Trying and
   * NOTIFY 200 OK), decline it (603), stall (202 and NOTIFY 100 Trying, then no final NOTIFY), or
   * treat it as a failure of the call (the default).
   */
  onRefer?: 'accept' | 'decline' | 'stall' | 'unexpected';
  /** After declining a REFER, the caller stays this long on the line, then hangs up. */
  afterReferMs?: number;
}

export interface SippResult {
  exitCode: number;
  answered: boolean;
  hangup?: 'local' | 'remote';
  /** The Refer-To header of a REFER received, as sent. */
  referTo?: string;
  /**
   * The status line of a final refusal of the INVITE (e.g. "SIP/2.0 503 Try again later"), when
   * the scenario ended on one: a refused call is a result (not answered), not a SIPp failure.
   */
  refused?: string;
  /** Every SIP message sent and received, as SIPp traced it. */
  messages: string;
  log: string;
}

/** Runs one call of test/sipp/caller.xml and reports what happened on the wire. */
export async function runSippCaller(call: SippCall, signal?: AbortSignal): Promise<SippResult> {
  const globalTimeoutS = Math.ceil((call.answerTimeoutMs + call.holdMs) / 1000) + 20;
  return runScenario(
    'caller.xml',
    {
      '@@MEDIA_FILE@@': call.mediaFile,
      '@@ANSWER_TIMEOUT_MS@@': String(call.answerTimeoutMs),
      '@@HOLD_MS@@': String(call.holdMs),
      '@@AFTER_ANSWER@@': call.afterAnswer ?? '',
      ...referSteps(call.onRefer ?? 'unexpected', call.holdMs, call.afterReferMs ?? 10_000),
    },
    [
      `${call.target.host}:${call.target.port}`,
      '-s',
      call.called,
      '-i',
      call.localIp,
      '-p',
      String(call.sipPort),
      '-mi',
      call.localIp,
      '-mp',
      String(call.mediaPort),
      '-key',
      'caller',
      call.caller,
      '-key',
      'recport',
      String(call.recordPort),
    ],
    globalTimeoutS,
    signal,
  );
}

/**
 * A phone that hangs up while it rings: test/sipp/cancel.xml, CANCEL `cancelAfterMs` (below 1 s)
 * after the first 180, unless the call is answered first (then ACK and BYE: `cancelled` false).
 */
export async function runSippCanceller(
  call: Pick<SippCall, 'called' | 'caller' | 'target' | 'localIp' | 'sipPort' | 'mediaPort'> & {
    cancelAfterMs: number;
  },
): Promise<SippResult & { cancelled: boolean }> {
  const result = await runScenario(
    'cancel.xml',
    { '@@CANCEL_AFTER_MS@@': String(call.cancelAfterMs) },
    [
      `${call.target.host}:${call.target.port}`,
      '-s',
      call.called,
      '-i',
      call.localIp,
      '-p',
      String(call.sipPort),
      '-mi',
      call.localIp,
      '-mp',
      String(call.mediaPort),
      '-key',
      'caller',
      call.caller,
    ],
    Math.ceil(call.cancelAfterMs / 1000) + 30,
  );
  return { ...result, cancelled: result.log.includes('RESULT=cancelled') };
}

/**
 * Renders a scenario template (SIPp expands no -key values inside attributes, hence the
 * placeholders), runs one call of it and collects SIPp's message trace and log.
 */
export async function runScenario(
  template: string,
  replacements: Record<string, string>,
  args: string[],
  globalTimeoutS: number,
  /** Ends SIPp (SIGTERM) early; what it traced until then is still returned. */
  signal?: AbortSignal,
  /** Calls to run (-m): a UAS answers this many, several at once if they come so. */
  calls = 1,
): Promise<SippResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sipp-'));
  let text = await readFile(join(SCENARIOS, template), 'utf8');
  for (const [key, value] of Object.entries(replacements)) text = text.replaceAll(key, value);
  const scenario = join(dir, template);
  await writeFile(scenario, text);
  const messageFile = join(dir, 'messages.log');
  const logFile = join(dir, 'scenario.log');
  const child = spawn(
    'sipp',
    [
      ...args,
      '-sf',
      scenario,
      '-m',
      String(calls),
      '-nostdin',
      '-timeout',
      `${globalTimeoutS}s`,
      '-timeout_error',
      '-trace_msg',
      '-message_file',
      messageFile,
      '-trace_logs',
      '-log_file',
      logFile,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stop = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', stop, { once: true });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  signal?.removeEventListener('abort', stop);
  const [messages, log] = await Promise.all([readOptional(messageFile), readOptional(logFile)]);
  const hangup = /HANGUP=(local|remote)/.exec(log)?.[1] as 'local' | 'remote' | undefined;
  // SIPp aborts a call on a response its scenario does not expect; for a final refusal of the
  // INVITE (486 from a full worker, 503 while livekit-sip cannot reach the server) that abort is
  // the call's outcome.
  const refused =
    exitCode !== 0 && !/RESULT=/.test(log) ? inviteRefusal(parseSippTrace(messages)) : undefined;
  if (exitCode !== 0 && !/RESULT=/.test(log) && refused === undefined) {
    throw new Error(`sipp failed (exit ${exitCode}): ${stderr.trim()}\n${messages.slice(-2000)}`);
  }
  const referTo = /REFER_TO=\s*(.*)/.exec(log)?.[1]?.trim();
  return {
    exitCode,
    answered: log.includes('RESULT=answered'),
    ...(hangup === undefined ? {} : { hangup }),
    ...(referTo === undefined ? {} : { referTo }),
    ...(refused === undefined ? {} : { refused }),
    messages,
    log,
  };
}

/** The status line of the first 3xx-6xx response to an INVITE, if the trace has one. */
export function inviteRefusal(messages: TracedSipMessage[]): string | undefined {
  return messages.find(
    (m) =>
      m.direction === 'received' &&
      /^SIP\/2\.0 [3-6]\d\d /.test(m.startLine) &&
      /^CSeq:\s*\d+ INVITE\s*$/im.test(m.text),
  )?.startLine;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** The REFER branch of test/sipp/caller.xml: none, accept with NOTIFYs, or decline with 603. */
function referSteps(
  mode: 'accept' | 'decline' | 'stall' | 'unexpected',
  holdMs: number,
  afterReferMs: number,
): Record<string, string> {
  if (mode === 'unexpected') return { '@@ON_REFER@@': '', '@@REFER_HANDLER@@': '' };
  const response = (status: string) => `<send><![CDATA[

      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Content-Length: 0

    ]]></send>`;
  const notify = (state: string, fragment: string) => `<send retrans="500"><![CDATA[

      NOTIFY [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Test Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: [cseq] NOTIFY
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Event: refer
      Subscription-State: ${state}
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      ${fragment}
    ]]></send>
  <recv response="200"/>`;
  const accepted = [
    response('202 Accepted'),
    '<nop><action><log message="REFER=accepted"/></action></nop>',
    notify('active;expires=60', 'SIP/2.0 100 Trying'),
  ];
  const handler =
    mode === 'accept'
      ? [...accepted, notify('terminated;reason=noresource', 'SIP/2.0 200 OK')]
      : mode === 'stall'
        ? [...accepted, `<pause milliseconds="${afterReferMs}"/>`, '<nop next="hangup"/>']
        : [
            response('603 Decline'),
            '<nop><action><log message="REFER=declined"/></action></nop>',
            `<pause milliseconds="${afterReferMs}"/>`,
            '<nop next="hangup"/>',
          ];
  return {
    '@@ON_REFER@@': `<recv request="REFER" optional="true" next="refer" timeout="${holdMs}" ontimeout="hangup">
    <action>
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Refer-To:" check_it="true" assign_to="refer_to"/>
      <log message="REFER_TO=[$refer_to]"/>
    </action>
  </recv>`,
    '@@REFER_HANDLER@@': ['<label id="refer"/>', ...handler, '<nop next="wait"/>'].join('\n  '),
  };
}

const DTMF_PCAPS: Record<string, string> = { '*': 'star', '#': 'pound' };

/**
 * Scenario steps that wait `afterMs` after the answer, then press `keys` as RFC 4733
 * telephone-events (PT 101), with SIPp's own recordings of each key.
 */
export function dtmfSteps(keys: string, afterMs: number, gapMs = 500): string {
  const steps = [`<pause milliseconds="${afterMs}"/>`];
  for (const key of keys) {
    if (!/^[0-9*#]$/.test(key)) throw new Error(`no DTMF recording for key ${key}`);
    const name = DTMF_PCAPS[key] ?? key;
    steps.push(
      `<nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_${name}.pcap"/></action></nop>`,
    );
    steps.push(`<pause milliseconds="${gapMs}"/>`);
  }
  return steps.join('\n  ');
}

/** One second of µ-law digital silence (0xFF), looped by SIPp. */
export async function writeSilenceUlaw(dir: string): Promise<string> {
  const file = join(dir, 'silence.ulaw');
  await writeFile(file, Buffer.alloc(8000, 0xff));
  return file;
}

export interface TracedSipMessage {
  direction: 'sent' | 'received';
  /** The request or status line, e.g. "BYE sip:…" or "SIP/2.0 200 OK". */
  startLine: string;
  text: string;
}

/** Parses SIPp's -trace_msg file into messages with their direction. */
export function parseSippTrace(trace: string): TracedSipMessage[] {
  const messages: TracedSipMessage[] = [];
  for (const block of trace.split(/^-{10,}.*$/m)) {
    const m = /^\s*UDP message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/.exec(block);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const text = m[2].trim();
    messages.push({
      direction: m[1] as 'sent' | 'received',
      startLine: text.split(/\r?\n/)[0] ?? '',
      text,
    });
  }
  return messages;
}

/** When SIPp received the first request `method` (BYE, REFER, ...), wall clock ms; undefined if none. */
export function receivedAtMs(
  result: Pick<SippResult, 'messages'>,
  method: string,
): number | undefined {
  const block = new RegExp(
    `^-{10,} (\\S+ \\S+)\\n\\s*UDP message received[^\\n]*\\n\\s*\\n\\s*${method} `,
    'm',
  ).exec(result.messages);
  return block?.[1] === undefined ? undefined : new Date(block[1].replace(' ', 'T')).getTime();
}

/**
 * When the caller's audio started, on the wall clock (ms): SIPp streams the media file from the
 * ACK, right after the 200 OK it received. Throws when the call was not answered.
 */
export function callerAudioStartMs(result: SippResult): number {
  const okBlock = /^-{10,} (\S+ \S+)\n\s*UDP message received[^\n]*\n\s*\n\s*SIP\/2\.0 200/m.exec(
    result.messages,
  );
  if (okBlock?.[1] === undefined)
    throw new Error('the call was not answered (no 200 OK in the trace)');
  return new Date(okBlock[1].replace(' ', 'T')).getTime();
}
