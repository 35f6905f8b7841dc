import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ApplyError, applyPlan, type ApplyScope } from './apply.js';
import { SipDispatchError } from './errors.js';
import { exportSipConfig } from './export.js';
import { loadSipConfig } from './load.js';
import { desiredState, type SecretLookup } from './model.js';
import {
  describeKind,
  destructiveReason,
  planHasChanges,
  planSipConfig,
  type Plan,
} from './plan.js';
import {
  appliedJson,
  maskChange,
  planJson,
  renderApplied,
  renderChange,
  renderPlan,
  renderProblems,
  renderWarnings,
  type Style,
} from './render.js';
import type { SipApi } from './sip-api.js';

/**
 * npm run sip -- <validate|plan|apply|prune|export> [options]; see USAGE. The process edge
 * (sip-dispatch/main.ts) passes the environment in; tests call runSipCommand directly.
 */
export const EXIT = { ok: 0, error: 1, invalid: 2, changesPending: 3 } as const;

export const DEFAULT_CONFIG = join(dirname(fileURLToPath(import.meta.url)), 'switchboard.yaml');
export const DEFAULT_ENV = 'local';

const USAGE = `usage: npm run sip -- <command> [options]
commands:
  validate   check the config offline (schema and conflicts)           exit 0 valid, 2 invalid
  plan       show what apply (and prune) would change on the server    exit 0 none, 3 changes pending
  apply      create and update objects to match the config             exit 0 done, 1 failed midway
  prune      delete objects sip-dispatch created that are no longer in the config
  export     print the server's objects as a sip-dispatch config
options:
  --config <file>       default sip-dispatch/switchboard.yaml
  --env <name>          environment in the file (default local)
  --json                machine-readable output
  --prune               apply: also delete what prune would delete (after the creates and
                        updates, unless a deletion frees a number one of them needs)
  --adopt               apply/plan: take over an unmarked object whose name matches an entry
  --include-unmanaged   prune: also delete objects sip-dispatch did not create
  --confirm-destroy     prune, apply --prune: go ahead although the plan deletes all or most
                        objects (as an empty or truncated file would); also accepts an empty config
exit codes: 0 ok / no changes, 1 error, 2 invalid config, usage or unconfirmed destruction,
            3 plan has changes pending`;

export interface CliDeps {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
  secret: SecretLookup;
  /** The server to talk to; called only by commands that need it. */
  connect: () => SipApi;
  /** Printed in headers: where the server is (never the key). */
  serverLabel: string;
}

export async function runSipCommand(argv: string[], deps: CliDeps): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', default: DEFAULT_CONFIG },
        env: { type: 'string', default: DEFAULT_ENV },
        json: { type: 'boolean', default: false },
        prune: { type: 'boolean', default: false },
        adopt: { type: 'boolean', default: false },
        'include-unmanaged': { type: 'boolean', default: false },
        'confirm-destroy': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    deps.err(`${(err as Error).message}\n${USAGE}`);
    return EXIT.invalid;
  }
  const { values: o, positionals } = args;
  const [command, ...extra] = positionals;
  if (o.help) {
    deps.out(USAGE);
    return EXIT.ok;
  }
  if (command === undefined || extra.length > 0 || !COMMANDS.has(command)) {
    deps.err(
      `${command === undefined ? 'no command' : `unknown command "${positionals.join(' ')}"`}\n${USAGE}`,
    );
    return EXIT.invalid;
  }
  const style: Style = { color: deps.color && !o.json };
  const json = (v: unknown) => deps.out(JSON.stringify(v, null, 2));
  try {
    if (command === 'export') {
      const exported = exportSipConfig(await deps.connect().read());
      if (o.json) json(exported);
      else {
        deps.out(
          `# exported from ${deps.serverLabel}; set ${exported.secrets.join(', ') || 'no secrets'} before apply\n${stringify(exported.config)}`,
        );
      }
      return EXIT.ok;
    }
    const loaded = await loadSipConfig(o.config, o.env, { allowEmpty: o['confirm-destroy'] });
    const header = `sip-dispatch ${command}: ${loaded.file}, environment ${o.env}, server ${deps.serverLabel}`;
    if (!o.json && loaded.warnings.length > 0) deps.err(renderWarnings(loaded.warnings, style));
    if (command === 'validate') {
      if (o.json) json({ valid: true, problems: [], warnings: loaded.warnings });
      else deps.out(`${loaded.file} (environment ${o.env}) is valid.`);
      return EXIT.ok;
    }
    const missing: string[] = [];
    const desired = desiredState(loaded.config, deps.secret, (name, where) =>
      missing.push(`${name} (the ${where.endsWith('.pinEnv') ? 'PIN' : 'password'} of ${where})`),
    );
    if (missing.length > 0 && command !== 'prune') {
      throw new SipDispatchError(
        'sip_secret_missing',
        `Secrets the config refers to are not set: ${missing.join(', ')}. Export them in the environment (never in the file) and run again.`,
      );
    }
    const api = deps.connect();
    const plan = planSipConfig(desired, await readServer(api), {
      adopt: o.adopt,
      includeUnmanaged: command === 'prune' && o['include-unmanaged'],
    });
    if (command === 'plan') {
      if (o.json) json({ file: loaded.file, env: o.env, ...planJson(plan) });
      else deps.out(renderPlan(plan, style, header));
      return planHasChanges(plan) ? EXIT.changesPending : EXIT.ok;
    }
    const scope: ApplyScope = command === 'prune' ? 'deletions' : o.prune ? 'all' : 'upserts';
    const destructive = scope === 'upserts' ? undefined : destructiveReason(plan);
    if (destructive !== undefined && !o['confirm-destroy']) {
      throw new SipDispatchError(
        'sip_destructive_unconfirmed',
        `Not deleting anything: ${destructive} (${plan.deletions.map((d) => `${describeKind(d.kind)} ${d.id ?? d.serverId}`).join(', ')}), as an empty or truncated config would. Check --config and --env; if this is meant, run again with --confirm-destroy.`,
      );
    }
    const applied = await applyPlan(api, plan, scope);
    if (o.json)
      json({
        file: loaded.file,
        env: o.env,
        applied: appliedJson(applied),
        ...pending(plan, scope),
      });
    else {
      deps.out(`${header}\n${renderApplied(applied, style, command)}`);
      if (scope === 'upserts' && plan.deletions.length > 0)
        deps.out(
          `${plan.deletions.length} object(s) sip-dispatch created are no longer in the config; \`npm run sip -- prune\` deletes them.`,
        );
    }
    return EXIT.ok;
  } catch (err) {
    return reportError(err, deps, o.json, style);
  }
}

const COMMANDS = new Set(['validate', 'plan', 'apply', 'prune', 'export']);

function pending(plan: Plan, scope: ApplyScope) {
  return { prunable: scope === 'upserts' ? plan.deletions : [] };
}

async function readServer(api: SipApi) {
  try {
    return await api.read();
  } catch (err) {
    throw new SipDispatchError(
      'sip_server_unavailable',
      `Cannot read the SIP configuration from the server: ${(err as Error).message}. Check LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET (or start the local stack with npm run stack -- up).`,
      { cause: err, retryable: true },
    );
  }
}

function reportError(err: unknown, deps: CliDeps, asJson: boolean, style: Style): number {
  if (err instanceof ApplyError) {
    if (asJson) {
      deps.out(
        JSON.stringify(
          {
            error: err.code,
            message: err.message,
            applied: appliedJson(err.applied),
            failed: { ...maskChange(err.failed.change), error: err.failed.error },
            notAttempted: err.notAttempted.map(maskChange),
          },
          null,
          2,
        ),
      );
    } else {
      deps.err(
        [
          `error [${err.code}]: ${err.message}`,
          'applied:',
          ...(err.applied.length === 0
            ? ['  (nothing)']
            : err.applied.flatMap((a) => renderChange(a.change, style).slice(0, 1))),
          'failed:',
          ...renderChange(err.failed.change, style).slice(0, 1),
          'not attempted:',
          ...(err.notAttempted.length === 0
            ? ['  (nothing)']
            : err.notAttempted.flatMap((c) => renderChange(c, style).slice(0, 1))),
        ].join('\n'),
      );
    }
    return EXIT.error;
  }
  if (err instanceof SipDispatchError) {
    if (asJson)
      deps.out(
        JSON.stringify({ error: err.code, message: err.message, problems: err.problems }, null, 2),
      );
    else if (err.problems.length > 0) deps.err(renderProblems(err.problems, style));
    else deps.err(`error [${err.code}]: ${err.message}`);
    return err.code === 'sip_config_invalid' ||
      err.code === 'sip_secret_missing' ||
      err.code === 'sip_destructive_unconfirmed'
      ? EXIT.invalid
      : EXIT.error;
  }
  deps.err(`error: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.error;
}
