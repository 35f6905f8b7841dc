import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../call-records/clock.js';
import { isSwitchboardError, SwitchboardError } from '../errors/index.js';
import type { OutboundDialer } from '../outbound/dialer.js';
import { readDoNotCallList } from './do-not-call.js';
import { readCampaignList } from './list.js';
import { parseCampaignPolicy, type CampaignPolicyInput } from './policy.js';
import { assertTrunks, runCampaign } from './runner.js';
import { campaignStatus, renderStatus } from './status.js';
import {
  CAMPAIGN_NAME,
  campaignDir,
  CampaignStore,
  DEFAULT_CAMPAIGNS_DIR,
  readJournal,
  runningPid,
} from './store.js';

/**
 * npm run campaign -- run <list> [options] | status [options]; see USAGE. The process edge
 * (main.ts) passes the dialer, the signal and the output in; tests call runCampaignCommand.
 */
export const EXIT = { ok: 0, error: 1, invalid: 2 } as const;

const USAGE = `usage: npm run campaign -- run <list.csv|list.jsonl> [options]
       npm run campaign -- status [--name <name>] [--rows] [--json] [--dir <dir>]
run options:
  --name <name>              the campaign, the key of its state (default: the list's file name)
  --agent <name>             the agent that talks (its worker's name; default switchboard)
  --trunk <name>             outbound trunk for rows without a trunk column (as npm run sip provisions)
  --from <+E.164>            caller ID for rows without a from column (default: the trunk's)
  --concurrency <n>          calls in progress at once (default 1)
  --trunk-concurrency <n|trunk=n>  calls at once per trunk; repeatable (default: --concurrency)
  --rate <r>                 calls started per second, e.g. 0.5 (default 1)
  --window <HH:MM-HH:MM>     calling hours in the callee's time zone (default: any time)
  --timezone <zone>          callee time zone for rows without one, IANA (default UTC)
  --until <time>             ISO 8601; no call starts after it (default: none)
  --dnc <file>               do-not-call list: one E.164 number per line
  --max-attempts <n>         attempts per row for busy / no answer, the first included (default 3)
  --retry-delay-ms <ms>      wait before the 2nd attempt (default 300000)
  --retry-backoff <x>        each later wait is x times the one before (default 2)
  --max-retry-delay-ms <ms>  longest wait between attempts (default 3600000)
  --stop-after-refusals <n>  stop when a trunk answers this many calls in a row with 403/503 (default 3)
  --dir <dir>                where campaign state lives (default ${DEFAULT_CAMPAIGNS_DIR})
exit codes: 0 done, 1 stopped or failed (run it again to resume), 2 invalid input (nothing dialled)`;

export interface CampaignCliDeps {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Made only when a campaign runs (status needs no LiveKit). */
  dialer: () => OutboundDialer;
  clock?: Clock;
  signal?: AbortSignal;
}

export async function runCampaignCommand(argv: string[], deps: CampaignCliDeps): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        agent: { type: 'string' },
        trunk: { type: 'string' },
        from: { type: 'string' },
        concurrency: { type: 'string' },
        'trunk-concurrency': { type: 'string', multiple: true },
        rate: { type: 'string' },
        window: { type: 'string' },
        timezone: { type: 'string' },
        until: { type: 'string' },
        dnc: { type: 'string' },
        'max-attempts': { type: 'string' },
        'retry-delay-ms': { type: 'string' },
        'retry-backoff': { type: 'string' },
        'max-retry-delay-ms': { type: 'string' },
        'stop-after-refusals': { type: 'string' },
        dir: { type: 'string', default: DEFAULT_CAMPAIGNS_DIR },
        rows: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    deps.err(`error [usage]: ${(err as Error).message}\n${USAGE}`);
    return EXIT.invalid;
  }
  const { values: o, positionals } = args;
  if (o.help) {
    deps.out(USAGE);
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  try {
    if (command === 'run' && rest.length === 1 && rest[0] !== undefined)
      return await run(rest[0], o, deps);
    if (command === 'status' && rest.length === 0) return await status(o, deps);
    deps.err(
      `error [usage]: ${command === undefined ? 'no command' : command === 'run' ? 'run takes one list file' : `unknown command "${positionals.join(' ')}"`}\n${USAGE}`,
    );
    return EXIT.invalid;
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    deps.err(`error [${err.code}]: ${err.message}`);
    return INVALID_INPUT.has(err.code) ? EXIT.invalid : EXIT.error;
  }
}

const INVALID_INPUT = new Set([
  'campaign_list_invalid',
  'campaign_options_invalid',
  'campaign_state_conflict',
]);

type Options = Record<string, string | string[] | boolean | undefined>;

async function run(listFile: string, o: Options, deps: CampaignCliDeps): Promise<number> {
  const clock = deps.clock ?? systemClock;
  const policy = parseCampaignPolicy(policyInput(o));
  const list = await readCampaignList(listFile);
  const doNotCall = typeof o.dnc === 'string' ? await readDoNotCallList(o.dnc) : new Set<string>();
  const name = typeof o.name === 'string' ? o.name : nameOf(listFile);
  const dir = campaignDir(String(o.dir), name);
  assertTrunks(list, policy);
  if (policy.window === undefined)
    deps.err('[campaign] no --window: calls start at any hour of the callee’s day');

  const store = await CampaignStore.open(dir, name, clock.nowMs());
  try {
    deps.err(
      `[campaign] ${name}: ${list.rows.length} row(s) from ${basename(listFile)}; state in ${dir}`,
    );
    const result = await runCampaign({
      list,
      policy,
      store,
      dialer: deps.dialer(),
      doNotCall,
      clock,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      log: (line) => deps.err(`[campaign] ${line}`),
    });
    deps.out(renderStatus(result.status));
    deps.out(`results: ${join(dir, 'results.jsonl')}`);
    if (result.stopReason !== undefined) {
      deps.err(`error [${result.stopReason.code}]: ${result.stopReason.message}`);
      return EXIT.error;
    }
    return result.ending === 'aborted' ? EXIT.error : EXIT.ok;
  } finally {
    await store.close();
  }
}

/** The options as the policy schema takes them; numbers stay text for its messages. */
function policyInput(o: Options): CampaignPolicyInput {
  const input: Record<string, unknown> = {};
  const copy = (flag: string, field: string) => {
    if (typeof o[flag] === 'string') input[field] = o[flag];
  };
  copy('agent', 'agentName');
  copy('trunk', 'trunk');
  copy('from', 'from');
  copy('concurrency', 'concurrency');
  copy('rate', 'rate');
  copy('window', 'window');
  copy('timezone', 'timezone');
  copy('max-attempts', 'maxAttempts');
  copy('retry-delay-ms', 'retryDelayMs');
  copy('retry-backoff', 'retryBackoff');
  copy('max-retry-delay-ms', 'maxRetryDelayMs');
  copy('stop-after-refusals', 'refusalsToStop');
  const caps = o['trunk-concurrency'];
  if (Array.isArray(caps)) {
    const perTrunk: Record<string, string> = {};
    for (const cap of caps) {
      const at = cap.lastIndexOf('=');
      perTrunk[at === -1 ? '*' : cap.slice(0, at)] = at === -1 ? cap : cap.slice(at + 1);
    }
    input.trunkConcurrency = perTrunk;
  }
  if (typeof o.until === 'string') {
    const untilMs = Date.parse(o.until);
    if (Number.isNaN(untilMs))
      throw new SwitchboardError(
        'campaign_options_invalid',
        `--until "${o.until}" is not a time; give ISO 8601 with a zone, e.g. 2026-03-02T20:00:00Z or 2026-03-02T20:00:00-05:00`,
      );
    input.untilMs = untilMs;
  }
  return input;
}

/** The default campaign name: the list's file name, made into a name. */
function nameOf(listFile: string): string {
  const name = basename(listFile, extname(listFile))
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name === '' ? 'campaign' : name;
}

async function status(o: Options, deps: CampaignCliDeps): Promise<number> {
  const baseDir = String(o.dir);
  let name = typeof o.name === 'string' ? o.name : undefined;
  if (name === undefined) {
    const names = (await readdir(baseDir).catch(() => [] as string[])).filter((n) =>
      CAMPAIGN_NAME.test(n),
    );
    if (names.length !== 1)
      throw new SwitchboardError(
        'campaign_options_invalid',
        names.length === 0
          ? `No campaigns in ${baseDir}. Start one with npm run campaign -- run <list>, or point --dir at their directory.`
          : `Several campaigns in ${baseDir} (${names.join(', ')}): say which with --name.`,
      );
    name = names[0] ?? '';
  }
  const dir = campaignDir(baseDir, name);
  const { entries } = await readJournal(dir);
  if (!entries.some((e) => e.type === 'run'))
    throw new SwitchboardError(
      'campaign_options_invalid',
      `No campaign "${name}" in ${baseDir}: it has never run. Check --name and --dir.`,
    );
  const s = campaignStatus(name, entries, (deps.clock ?? systemClock).nowMs());
  const pid = await runningPid(dir);
  if (o.json === true) deps.out(JSON.stringify({ ...s, runningPid: pid ?? null }, null, 2));
  else
    deps.out(
      renderStatus(s, { rows: o.rows === true, ...(pid === undefined ? {} : { runningPid: pid }) }),
    );
  return EXIT.ok;
}
