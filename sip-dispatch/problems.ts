/**
 * One problem in a sip-dispatch file: where it is (file, path in it, line when known), what is
 * wrong and how to fix it. validate reports all of them at once; nothing is applied while any exist.
 */
export interface Problem {
  file: string;
  /** Dotted path in the file, e.g. dispatchRules.support.trunks[0]. */
  path: string;
  line?: number;
  message: string;
  fix: string;
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}${p.line === undefined ? '' : `:${p.line}`} ${p.path || '(top level)'}`;
  return `${where}: ${p.message}\n  fix: ${p.fix}`;
}
