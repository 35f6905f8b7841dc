import { SECTIONS, type Section, type SipConfigFile } from './schema.js';

/**
 * Resolves one environment of a file: the base entries with that environment's overrides. An
 * override replaces whole fields (lists and maps included), adds entries the base lacks, and drops
 * an entry given as null. `origin` tells which part of the file each resolved field came from, so
 * a problem is reported where it was written.
 */
export interface Resolved {
  config: Record<Section, Record<string, unknown>>;
  /** Maps "section.id.field" of the resolved config to its path in the file. */
  origin: (path: readonly (string | number)[]) => (string | number)[];
}

export function environmentNames(file: SipConfigFile): string[] {
  return Object.keys(file.environments ?? {});
}

export function resolveEnvironment(file: SipConfigFile, env: string | undefined): Resolved {
  const overrides = env === undefined ? undefined : (file.environments?.[env] ?? undefined);
  const config = {} as Record<Section, Record<string, unknown>>;
  const overridden = new Set<string>();
  const added = new Set<string>();
  for (const section of SECTIONS) {
    const base = { ...(file[section] ?? {}) };
    for (const [id, patch] of Object.entries(overrides?.[section] ?? {})) {
      if (patch === null) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- entries are keyed by id
        delete base[id];
        continue;
      }
      const current = base[id];
      if (current === undefined || typeof current !== 'object' || current === null) {
        base[id] = patch;
        added.add(`${section}.${id}`);
      } else {
        base[id] = { ...(current as Record<string, unknown>), ...patch };
        for (const field of Object.keys(patch)) overridden.add(`${section}.${id}.${field}`);
      }
    }
    config[section] = base;
  }
  return {
    config,
    origin: (path) => {
      const [section, id, field] = path;
      const inEnv =
        env !== undefined &&
        (added.has(`${String(section)}.${String(id)}`) ||
          overridden.has(`${String(section)}.${String(id)}.${String(field)}`));
      return inEnv ? ['environments', env, ...path] : [...path];
    },
  };
}

/** An environment's override that does not do what it looks like, with its place in the file. */
export interface OverrideProblem {
  path: (string | number)[];
  message: string;
  fix: string;
}

/**
 * Overrides of every environment (not only the one in use, so validating `local` also catches a
 * typo in `production`) whose key does not match a base entry: one given as null drops nothing,
 * and one that looks like a misspelt base key, or a key of another section, silently adds a new
 * entry (a trunk, since every trunk field is optional) while the real one keeps its base values.
 */
export function overrideProblems(file: SipConfigFile): OverrideProblem[] {
  const problems: OverrideProblem[] = [];
  for (const [env, overrides] of Object.entries(file.environments ?? {})) {
    for (const section of SECTIONS) {
      const base = Object.keys(file[section] ?? {});
      for (const [id, patch] of Object.entries(overrides?.[section] ?? {})) {
        if (base.includes(id)) continue;
        const path = ['environments', env, section, id];
        if (patch === null) {
          problems.push({
            path,
            message: `${section}.${id}: null drops nothing: the base has no ${section}.${id}${hint(id, base)}`,
            fix: `use the key of the entry to drop (${base.join(', ') || 'the base has none'}), or remove this line`,
          });
          continue;
        }
        const near = base.find((b) => nearMiss(id, b));
        const elsewhere = SECTIONS.find((s) => s !== section && id in (file[s] ?? {}));
        if (near !== undefined) {
          problems.push({
            path,
            message: `"${id}" is not an entry of ${section}, so this adds a new one, and ${section}.${near} keeps its base values; did you mean "${near}"?`,
            fix: `write the override under "${near}"; or, for a new entry, pick an id that is not a near-spelling of "${near}"`,
          });
        } else if (elsewhere !== undefined) {
          problems.push({
            path,
            message: `"${id}" is an entry of ${elsewhere}, not of ${section}, so this adds a new entry to ${section}`,
            fix: `move the override under environments.${env}.${elsewhere}`,
          });
        }
      }
    }
  }
  return problems;
}

function hint(id: string, base: string[]): string {
  const near = base.find((b) => nearMiss(id, b));
  return near === undefined ? '' : `; did you mean "${near}"?`;
}

/**
 * Looks like a typo of `b`: equal but for case and separators, or an edit or two away (one for
 * short ids), not counting ids that differ only in digits (line-1, line-2 are a series).
 */
export function nearMiss(a: string, b: string): boolean {
  if (a === b) return false;
  const loose = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  if (loose(a) === loose(b)) return true;
  if (a.replace(/[0-9]/g, '') === b.replace(/[0-9]/g, '')) return false;
  const allowed = Math.min(a.length, b.length) <= 5 ? 1 : 2;
  return editDistance(a, b) <= allowed;
}

/** Levenshtein distance with adjacent transpositions (so "dmeo" is one edit from "demo"). */
function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  const at = (i: number, j: number) => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}
