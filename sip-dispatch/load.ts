import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { environmentNames, overrideProblems, resolveEnvironment } from './environments.js';
import { SipDispatchError } from './errors.js';
import { formatPath, formatProblem, type Problem } from './problems.js';
import {
  DispatchRuleEntry,
  entryId,
  InboundTrunkEntry,
  OutboundTrunkEntry,
  SECTIONS,
  SipConfigFile,
  type Section,
  type SipConfig,
} from './schema.js';
import { validateSipConfig } from './validate.js';

export interface LoadedConfig {
  file: string;
  env: string | undefined;
  config: SipConfig;
  /** What is suspicious but not wrong (e.g. a trunk open to any source): shown, not fatal. */
  warnings: Problem[];
}

export interface CheckOptions {
  /** Accept a config without entries (prune --confirm-destroy: deleting everything on purpose). */
  allowEmpty?: boolean;
}

const ENTRY_SCHEMAS = {
  inboundTrunks: InboundTrunkEntry,
  outboundTrunks: OutboundTrunkEntry,
  dispatchRules: DispatchRuleEntry,
} as const;

/**
 * Reads a file, resolves the environment and checks everything that can be checked offline: the
 * schema of each entry, the environments' overrides, then the cross-object conflicts among the
 * entries that passed the schema. Returns every problem at once (a schema problem in one entry
 * does not hide a conflict elsewhere), warnings apart; `config` only when there is no problem.
 */
export function checkSipConfigText(
  text: string,
  file: string,
  env: string | undefined,
  options: CheckOptions = {},
): { problems: Problem[]; warnings: Problem[]; config?: SipConfig } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (path: (string | number)[]) => lineAt(doc, lines, path);
  const at = (path: (string | number)[], message: string, fix: string): Problem => ({
    file,
    path: formatPath(path),
    line: lineOf(path),
    message,
    fix,
  });
  if (doc.errors.length > 0) {
    return {
      warnings: [],
      problems: doc.errors.map((e) => ({
        file,
        path: '',
        line: e.linePos?.[0].line,
        message: `not valid YAML: ${e.message.split('\n')[0] ?? ''}`,
        fix: 'correct the YAML syntax at that line (indentation, quotes, a duplicate key)',
      })),
    };
  }
  const raw: unknown = doc.toJS() ?? {};
  const problems: Problem[] = [];
  const parsedFile = SipConfigFile.safeParse(raw);
  let fileConfig: SipConfigFile;
  if (parsedFile.success) fileConfig = parsedFile.data;
  else {
    problems.push(...zodProblems(parsedFile.error, file, (p) => p, lineOf));
    // Go on with the sections that are maps, so the entries' own problems are reported too.
    const record = (v: unknown) =>
      typeof v === 'object' && v !== null && !Array.isArray(v)
        ? (v as Record<string, unknown>)
        : undefined;
    const top = record(raw) ?? {};
    fileConfig = {};
    for (const s of SECTIONS) {
      const section = record(top[s]);
      if (section !== undefined) fileConfig[s] = section;
    }
    const envs = SipConfigFile.shape.environments.safeParse(top.environments);
    if (envs.success && envs.data !== undefined) fileConfig.environments = envs.data;
  }
  const names = environmentNames(fileConfig);
  if (env !== undefined && names.length > 0 && !names.includes(env)) {
    problems.push(
      at(
        ['environments'],
        `there is no environment "${env}"`,
        `use --env with one of: ${names.join(', ')}; or add environments.${env} to the file`,
      ),
    );
    return { problems, warnings: [] };
  }
  for (const p of overrideProblems(fileConfig)) problems.push(at(p.path, p.message, p.fix));

  const resolved = resolveEnvironment(fileConfig, names.length > 0 ? env : undefined);
  const config: SipConfig = { inboundTrunks: {}, outboundTrunks: {}, dispatchRules: {} };
  const invalidEntries: { section: Section; id: string }[] = [];
  for (const section of SECTIONS) {
    for (const [id, entry] of Object.entries(resolved.config[section])) {
      const idOk = entryId.safeParse(id);
      const parsed = ENTRY_SCHEMAS[section].safeParse(entry);
      if (!idOk.success) {
        problems.push(
          ...zodProblems(idOk.error, file, (p) => resolved.origin([section, id, ...p]), lineOf),
        );
      }
      if (!parsed.success) {
        problems.push(
          ...zodProblems(parsed.error, file, (p) => resolved.origin([section, id, ...p]), lineOf),
        );
      }
      if (idOk.success && parsed.success)
        (config[section] as Record<string, unknown>)[id] = parsed.data;
      else invalidEntries.push({ section, id });
    }
  }
  const warnings: Problem[] = [];
  for (const p of validateSipConfig(config, {
    invalidEntries,
    ...(options.allowEmpty === true ? { allowEmpty: true } : {}),
  })) {
    const path = resolved.origin(p.path);
    (p.severity === 'warning' ? warnings : problems).push(at(path, p.message, p.fix));
  }
  return problems.length > 0 ? { problems, warnings } : { problems, warnings, config };
}

export async function loadSipConfig(
  path: string,
  env: string | undefined,
  options: CheckOptions = {},
): Promise<LoadedConfig> {
  const rel = relative(process.cwd(), path);
  const file = rel === '' || rel.startsWith('..') ? path : rel;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SipDispatchError(
      'sip_config_invalid',
      `Cannot read ${file}: ${(err as Error).message}. Pass the config with --config <file>.`,
      { cause: err },
    );
  }
  const { problems, warnings, config } = checkSipConfigText(text, file, env, options);
  if (config === undefined) {
    throw new SipDispatchError(
      'sip_config_invalid',
      `${file} is not a valid sip-dispatch config; nothing was applied:\n${problems.map(formatProblem).join('\n')}`,
      { problems },
    );
  }
  return { file, env, config, warnings };
}

function zodProblems(
  error: z.ZodError,
  file: string,
  origin: (path: (string | number)[]) => (string | number)[],
  lineOf: (path: (string | number)[]) => number | undefined,
): Problem[] {
  return error.issues.map((issue) => {
    const path = origin(issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)));
    return {
      file,
      path: formatPath(path),
      line: lineOf(path),
      message:
        issue.code === 'invalid_key'
          ? `${issue.message}: ${issue.issues.map((i) => i.message).join('; ')}`
          : issue.message,
      fix: fixFor(issue),
    };
  });
}

function fixFor(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `remove or correct ${issue.keys.map((k) => `"${k}"`).join(', ')} (docs/provisioning.md lists every key)`;
    case 'invalid_type':
      return `give a value of type ${issue.expected}`;
    case 'invalid_value':
      return `use one of: ${issue.values.map(String).join(', ')}`;
    default:
      return 'change the value as the message says';
  }
}

/** The 1-based line of the deepest node of `path` that exists in the document. */
function lineAt(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as
      { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}
