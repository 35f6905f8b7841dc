import { parseArgs } from 'node:util';
import { maskPhoneNumber } from '../caller/phone-number.js';
import { isSwitchboardError } from '../errors/index.js';
import type { OutboundDialer } from './dialer.js';

export const CALL_USAGE = `Usage: npm run call -- <+E.164 number> [--agent <name>] [--trunk <name>] [--from <+E.164>] [--metadata <json>]
  Places one call: the agent dials the number through the outbound trunk and talks to whoever answers.
  --agent     the agent's registered name (default: switchboard, the receptionist)
  --trunk     the outbound trunk's name (default: the only outbound trunk on the server)
  --from      caller ID, one of the trunk's numbers (default: the trunk picks)
  --metadata  more call options as JSON, e.g. '{"outbound":{"answeringMachine":{"onMachine":"leave_message","message":"..."}}}'`;

export interface CallCommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  dialer: OutboundDialer;
  /** The names of the outbound trunks on the server, for the default and for a clear error. */
  outboundTrunkNames: () => Promise<string[]>;
  /** Aborted by Ctrl-C: the call is hung up. */
  signal?: AbortSignal;
}

/** Exit codes: 0 answered (person or machine), 2 not answered (busy, no answer, declined), 1 failed. */
export async function runCallCommand(argv: string[], io: CallCommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        agent: { type: 'string', default: 'switchboard' },
        trunk: { type: 'string' },
        from: { type: 'string' },
        metadata: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`error [usage]: ${(err as Error).message}\n${CALL_USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(CALL_USAGE);
    return 0;
  }
  const [to, ...extra] = positionals;
  if (to === undefined || extra.length > 0) {
    io.err(`error [usage]: give exactly one number to call\n${CALL_USAGE}`);
    return 1;
  }
  let callOptions: Record<string, unknown> = {};
  if (values.metadata !== undefined) {
    try {
      const json: unknown = JSON.parse(values.metadata);
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error();
      callOptions = json as Record<string, unknown>;
    } catch {
      io.err(
        `error [outbound_request_invalid]: --metadata is not a JSON object of call options, e.g. '{"maxCallDurationMs":600000}'`,
      );
      return 1;
    }
  }
  let trunk = values.trunk;
  if (trunk === undefined) {
    const names = await io.outboundTrunkNames();
    if (names.length !== 1) {
      io.err(
        names.length === 0
          ? 'error [outbound_trunk_missing]: there is no outbound trunk on the server: provision one (npm run sip -- apply)'
          : `error [outbound_trunk_missing]: ${names.length} outbound trunks on the server (${names.join(', ')}): choose one with --trunk`,
      );
      return 1;
    }
    trunk = names[0] ?? '';
  }
  try {
    const call = await io.dialer.place(
      {
        to,
        agentName: values.agent,
        trunk,
        ...(values.from === undefined ? {} : { from: values.from }),
        callOptions,
      },
      io.signal,
    );
    io.out(
      `dialling ${maskPhoneNumber(to)} through "${trunk}" (room ${call.room}, agent ${values.agent})`,
    );
    const outcome = await call.outcome;
    const ringing =
      outcome.ringingMs === undefined ? '' : ` after ${(outcome.ringingMs / 1000).toFixed(1)} s`;
    io.out(`outcome: ${outcome.result}${ringing}: ${outcome.detail}`);
    if (outcome.result !== 'answered' && outcome.result !== 'voicemail')
      return outcome.result === 'failed' ? 1 : 2;
    await call.ended;
    io.out('the call ended');
    return 0;
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    io.err(`error [${err.code}]: ${err.message}`);
    return 1;
  }
}
