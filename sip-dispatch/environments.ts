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
