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
}

export interface SippResult {
  exitCode: number;
  answered: boolean;
  hangup?: 'local' | 'remote';
  /** Every SIP message sent and received, as SIPp traced it. */
  messages: string;
  log: string;
}

/** Runs one call of test/sipp/caller.xml and reports what happened on the wire. */
export async function runSippCaller(call: SippCall, signal?: AbortSignal): Promise<SippResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sipp-'));
  const template = await readFile(join(SCENARIOS, 'caller.xml'), 'utf8');
  const scenario = join(dir, 'caller.xml');
  await writeFile(
    scenario,
    template
      .replaceAll('@@MEDIA_FILE@@', call.mediaFile)
      .replaceAll('@@ANSWER_TIMEOUT_MS@@', String(call.answerTimeoutMs))
      .replaceAll('@@HOLD_MS@@', String(call.holdMs))
      .replaceAll('@@AFTER_ANSWER@@', call.afterAnswer ?? ''),
  );
  const messageFile = join(dir, 'messages.log');
  const logFile = join(dir, 'scenario.log');
  const globalTimeoutS = Math.ceil((call.answerTimeoutMs + call.holdMs) / 1000) + 20;
  const args = [
    `${call.target.host}:${call.target.port}`,
    '-sf',
    scenario,
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
    '-m',
    '1',
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
  ];
  const child = spawn('sipp', args, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(signal ? { signal } : {}),
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  const [messages, log] = await Promise.all([readOptional(messageFile), readOptional(logFile)]);
  const hangup = /HANGUP=(local|remote)/.exec(log)?.[1] as 'local' | 'remote' | undefined;
  if (exitCode !== 0 && !/RESULT=/.test(log)) {
    throw new Error(`sipp failed (exit ${exitCode}): ${stderr.trim()}\n${messages.slice(-2000)}`);
  }
  return {
    exitCode,
    answered: log.includes('RESULT=answered'),
    ...(hangup === undefined ? {} : { hangup }),
    messages,
    log,
  };
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
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
