import type { SipConfig } from './schema.js';

/**
 * The conflicts the server rejects only at creation, or accepts and then mishandles (a call that
 * matches no rule is dropped without an answer). Mirrors livekit's own rules: trunks clash on the
 * same called number (or both being default) with the same allowed caller numbers; rules clash on
 * the same trunk, caller number, called number and PIN.
 */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
  fix: string;
}

/** livekit's NormalizeNumber: "+1 (555) 010-0" and "15550100" are the same number. */
export function normalizeNumber(num: string): string {
  if (num === '' || !/^\+?[\d\- ()]+$/.test(num)) return num;
  const digits = num.replace(/[ ()-]/g, '');
  return digits.startsWith('+') ? digits : `+${digits}`;
}

const orAny = (values: readonly string[]) =>
  values.length === 0 ? [''] : [...new Set(values.map(normalizeNumber))];
const show = (n: string, any: string) => (n === '' ? any : n);

export function validateSipConfig(config: SipConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const trunks = Object.entries(config.inboundTrunks);
  const rules = Object.entries(config.dispatchRules);

  const seenIds = new Map<string, string>();
  for (const section of ['inboundTrunks', 'outboundTrunks', 'dispatchRules'] as const) {
    const entries: Record<string, { previousIds: string[] }> = config[section];
    for (const [id, entry] of Object.entries(entries)) {
      for (const [i, prev] of entry.previousIds.entries()) {
        const key = `${section}.${prev}`;
        const owner = seenIds.get(key);
        if (prev === id || prev in entries || owner !== undefined) {
          problems.push({
            path: [section, id, 'previousIds', i],
            message: `"${prev}" is still in use (${owner === undefined ? `as an entry of ${section}` : `by ${owner}`}), so objects marked with it cannot be taken over by "${id}"`,
            fix: `remove "${prev}" from previousIds, or rename that other entry`,
          });
        }
        seenIds.set(key, `${section}.${id}`);
      }
    }
  }

  // Trunks: one owner per (called number or default, allowed caller number or any).
  const trunkKeys = new Map<string, string>();
  for (const [id, t] of trunks) {
    for (const number of orAny(t.numbers)) {
      for (const caller of orAny(t.allowedNumbers)) {
        const key = `${number}|${caller}`;
        const other = trunkKeys.get(key);
        if (other !== undefined && other !== id) {
          problems.push(
            number === ''
              ? {
                  path: ['inboundTrunks', id, 'numbers'],
                  message: `"${other}" and "${id}" are both default trunks (no numbers) for ${show(caller, 'any caller')}; the server rejects the second`,
                  fix: `give one of them numbers, or distinct allowedNumbers`,
                }
              : {
                  path: ['inboundTrunks', id, 'numbers'],
                  message: `${number} is on two trunks, "${other}" and "${id}", for ${show(caller, 'any caller')}; the server rejects the second`,
                  fix: `keep ${number} on one trunk, or give the trunks distinct allowedNumbers`,
                },
          );
        }
        trunkKeys.set(key, id);
      }
    }
  }

  // Rules: a trunk they name must exist; one rule per (trunk, caller, called, PIN).
  const ruleKeys = new Map<string, string>();
  for (const [id, r] of rules) {
    for (const [i, trunk] of r.trunks.entries()) {
      if (config.inboundTrunks[trunk] === undefined) {
        const known = trunks.map(([t]) => t);
        problems.push({
          path: ['dispatchRules', id, 'trunks', i],
          message: `trunk "${trunk}" is not defined in inboundTrunks`,
          fix:
            known.length === 0
              ? `define inboundTrunks.${trunk}, or remove it from trunks`
              : `use one of: ${known.join(', ')}; or define inboundTrunks.${trunk}`,
        });
      }
    }
    for (const trunk of r.trunks.length === 0 ? [''] : r.trunks) {
      for (const caller of orAny(r.callerNumbers)) {
        for (const called of orAny(r.calledNumbers)) {
          const key = `${trunk}|${caller}|${called}|${r.pin ?? ''}`;
          const other = ruleKeys.get(key);
          if (other !== undefined && other !== id) {
            problems.push({
              path: ['dispatchRules', id],
              message: `rules "${other}" and "${id}" both match ${trunk === '' ? 'any trunk' : `trunk "${trunk}"`}, ${show(called, 'any called number')}, ${show(caller, 'any caller')} and ${r.pin === undefined ? 'no PIN' : 'the same PIN'}; the server rejects the second`,
              fix: 'make them differ in trunks, calledNumbers, callerNumbers or pin, or merge them',
            });
          }
          ruleKeys.set(key, id);
        }
      }
    }
  }

  // An agent's transfer options may name an outbound trunk; it must be one this config defines.
  const outboundNames = Object.entries(config.outboundTrunks).map(([id, t]) => t.name ?? id);
  for (const [id, r] of rules) {
    for (const [i, agent] of r.agents.entries()) {
      const named = transferTrunkName(agent.metadata);
      if (named === undefined || outboundNames.includes(named)) continue;
      problems.push({
        path: ['dispatchRules', id, 'agents', i, 'metadata', 'transfer', 'human', 'outboundTrunk'],
        message: `outbound trunk "${named}" is not defined in outboundTrunks, so the agent could not dial the human`,
        fix:
          outboundNames.length === 0
            ? `define outboundTrunks.${named}`
            : `use one of: ${outboundNames.join(', ')}; or define outboundTrunks.${named}`,
      });
    }
  }

  // Every inbound number must reach some rule, or its calls are dropped without an answer.
  for (const [id, t] of trunks) {
    for (const [i, number] of (t.numbers.length === 0 ? [''] : t.numbers).entries()) {
      const reached = rules.some(
        ([, r]) =>
          (r.trunks.length === 0 || r.trunks.includes(id)) &&
          (number === '' ||
            r.calledNumbers.length === 0 ||
            r.calledNumbers.some((n) => normalizeNumber(n) === normalizeNumber(number))),
      );
      if (!reached) {
        problems.push({
          path: number === '' ? ['inboundTrunks', id] : ['inboundTrunks', id, 'numbers', i],
          message: `calls to ${number === '' ? `default trunk "${id}"` : `${number} on trunk "${id}"`} match no dispatch rule; livekit-sip drops them without an answer`,
          fix: `add a dispatch rule with trunks: [${id}]${number === '' ? '' : ` (and calledNumbers including ${number}, or none)`}, or remove the number`,
        });
      }
    }
  }
  return problems;
}

/**
 * `transfer.human.outboundTrunk` in an agent's metadata (the agent's call options), given as an
 * object or as JSON text (as `export` writes it).
 */
function transferTrunkName(metadata: unknown): string | undefined {
  let options = metadata;
  if (typeof metadata === 'string') {
    try {
      options = JSON.parse(metadata) as unknown;
    } catch {
      return undefined; // not JSON: metadata for some other agent
    }
  }
  if (typeof options !== 'object' || options === null) return undefined;
  const transfer = (options as { transfer?: { human?: { outboundTrunk?: unknown } } }).transfer;
  const name = transfer?.human?.outboundTrunk;
  return typeof name === 'string' ? name : undefined;
}
