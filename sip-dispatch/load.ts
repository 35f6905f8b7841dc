import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { environmentNames, resolveEnvironment } from './environments.js';
import { SipDispatchError } from './errors.js';
import { formatPath, formatProblem, type Problem } from './problems.js';
import { SipConfig, SipConfigFile } from './schema.js';
import { validateSipConfig } from './validate.js';

export interface LoadedConfig {
  file: string;
  env: string | undefined;
  config: SipConfig;
}

/**
 * Reads a file, resolves the environment and checks everything that can be checked offline: the
 * schema, then the cross-object conflicts. Returns every problem at once; `config` only when none.
 */
export function checkSipConfigText(
  text: string,
  file: string,
  env: string | undefined,
): { problems: Problem[]; config?: SipConfig } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (path: (string | number)[]) => lineAt(doc, lines, path);
  if (doc.errors.length > 0) {
    return {
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
  const parsedFile = SipConfigFile.safeParse(raw);
  if (!parsedFile.success) {
    return { problems: zodProblems(parsedFile.error, file, (p) => p, lineOf) };
  }
  const names = environmentNames(parsedFile.data);
  if (env !== undefined && names.length > 0 && !names.includes(env)) {
    return {
      problems: [
        {
          file,
          path: 'environments',
          line: lineOf(['environments']),
          message: `there is no environment "${env}"`,
          fix: `use --env with one of: ${names.join(', ')}; or add environments.${env} to the file`,
        },
      ],
    };
  }
  const resolved = resolveEnvironment(parsedFile.data, names.length > 0 ? env : undefined);
  const parsed = SipConfig.safeParse(resolved.config);
  if (!parsed.success) {
    return { problems: zodProblems(parsed.error, file, resolved.origin, lineOf) };
  }
  const problems = validateSipConfig(parsed.data).map((p) => {
    const path = resolved.origin(p.path);
    return {
      file,
      path: formatPath(path),
      line: lineOf(path),
      message: p.message,
      fix: p.fix,
    };
  });
  return problems.length > 0 ? { problems } : { problems, config: parsed.data };
}

export async function loadSipConfig(path: string, env: string | undefined): Promise<LoadedConfig> {
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
  const { problems, config } = checkSipConfigText(text, file, env);
  if (config === undefined) {
    throw new SipDispatchError(
      'sip_config_invalid',
      `${file} is not a valid sip-dispatch config; nothing was applied:\n${problems.map(formatProblem).join('\n')}`,
      { problems },
    );
  }
  return { file, env, config };
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
      message: issue.message,
      fix: fixFor(issue),
    };
  });
}

function fixFor(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `remove or correct ${issue.keys.map((k) => `"${k}"`).join(', ')} (the README section "Provisioning SIP" lists every key)`;
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
