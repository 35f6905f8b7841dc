import { SIPDispatchRuleInfo, SIPInboundTrunkInfo, SIPOutboundTrunkInfo } from 'livekit-server-sdk';
import { callOptionsIssues } from '../src/dispatch/call-options.js';
import { nearMiss } from './environments.js';
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
  /** A warning is shown but does not stop validate, plan or apply. */
  severity?: 'warning';
}

export interface ValidateOptions {
  /** An empty config is an error (it would plan deleting everything) unless this is set. */
  allowEmpty?: boolean;
  /**
   * Entries that exist in the file but failed the schema (so `config` lacks them): references to
   * them are not reported as unknown, and no number is reported as unreached while a rule is.
   */
  invalidEntries?: { section: 'inboundTrunks' | 'outboundTrunks' | 'dispatchRules'; id: string }[];
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

export function validateSipConfig(
  config: SipConfig,
  options: ValidateOptions = {},
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const trunks = Object.entries(config.inboundTrunks);
  const rules = Object.entries(config.dispatchRules);
  const invalid = options.invalidEntries ?? [];
  const invalidIn = (section: string) =>
    new Set(invalid.filter((e) => e.section === section).map((e) => e.id));

  const entries = trunks.length + rules.length + Object.keys(config.outboundTrunks).length;
  if (entries === 0 && invalid.length === 0 && options.allowEmpty !== true) {
    problems.push({
      path: [],
      message:
        'the config defines no trunks and no dispatch rules; planned against a server, it would delete every object sip-dispatch manages',
      fix: 'check that --config and --env name the file and environment you meant (an empty or truncated file looks like this); to delete everything sip-dispatch manages on purpose, run prune with --confirm-destroy',
    });
  }

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
  const invalidTrunks = invalidIn('inboundTrunks');
  for (const [id, r] of rules) {
    for (const [i, trunk] of r.trunks.entries()) {
      if (config.inboundTrunks[trunk] === undefined && !invalidTrunks.has(trunk)) {
        const known = [...trunks.map(([t]) => t), ...invalidTrunks];
        const near = known.find((k) => nearMiss(trunk, k));
        problems.push({
          path: ['dispatchRules', id, 'trunks', i],
          message: `trunk "${trunk}" is not defined in inboundTrunks${near === undefined ? '' : `; did you mean "${near}"?`}`,
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
          // A PIN from the environment is unknown offline: the same variable is the same PIN.
          const pin = r.pin ?? (r.pinEnv === undefined ? '' : `$${r.pinEnv}`);
          const key = `${trunk}|${caller}|${called}|${pin}`;
          const other = ruleKeys.get(key);
          if (other !== undefined && other !== id) {
            problems.push({
              path: ['dispatchRules', id],
              message: `rules "${other}" and "${id}" both match ${trunk === '' ? 'any trunk' : `trunk "${trunk}"`}, ${show(called, 'any called number')}, ${show(caller, 'any caller')} and ${pin === '' ? 'no PIN' : 'the same PIN'}; the server rejects the second`,
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
  for (const [id, t] of invalidIn('dispatchRules').size > 0 ? [] : trunks) {
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

  problems.push(
    ...ruleProblems(config),
    ...agentProblems(config),
    ...nameProblems(config),
    ...openTrunkWarnings(config),
    ...serverFieldProblems(config),
  );
  return problems;
}

/** A rule naming trunks that all have numbers, with a called number none of them has: never matches. */
function ruleProblems(config: SipConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [id, r] of Object.entries(config.dispatchRules)) {
    const named = r.trunks.flatMap((t) => {
      const trunk = config.inboundTrunks[t];
      return trunk === undefined ? [] : [trunk];
    });
    // Unknown trunks are reported above; a default trunk (no numbers) takes any called number.
    if (named.length !== r.trunks.length || named.some((t) => t.numbers.length === 0)) continue;
    if (named.length === 0) continue;
    const held = new Set(named.flatMap((t) => t.numbers.map(normalizeNumber)));
    for (const [i, called] of r.calledNumbers.entries()) {
      if (held.has(normalizeNumber(called))) continue;
      problems.push({
        path: ['dispatchRules', id, 'calledNumbers', i],
        message: `${called} is not a number of ${r.trunks.map((t) => `"${t}"`).join(', ')}, so this part of the rule never matches a call`,
        fix: `add ${called} to the numbers of one of its trunks, or correct the number`,
      });
    }
  }
  return problems;
}

/** Each agent's metadata against the call options every switchboard agent parses. */
function agentProblems(config: SipConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [id, r] of Object.entries(config.dispatchRules)) {
    for (const [i, agent] of r.agents.entries()) {
      const at = ['dispatchRules', id, 'agents', i, 'metadata'];
      const asText = typeof agent.metadata === 'string';
      for (const issue of callOptionsIssues(agent.metadata)) {
        const inner = issue.path.join('.');
        problems.push({
          // In JSON text the inner path cannot be pointed at in the file: it goes in the message.
          path: asText ? at : [...at, ...issue.path],
          message: `${asText && inner !== '' ? `${inner}: ` : ''}${issue.message}; the agent would refuse every call on this line`,
          fix: 'correct the option as the message says (docs/agent.md#per-call-options lists them)',
        });
      }
    }
  }
  return problems;
}

/** Names are how people (and --adopt, and a transfer's outboundTrunk) tell objects apart. */
function nameProblems(config: SipConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const section of ['inboundTrunks', 'outboundTrunks', 'dispatchRules'] as const) {
    const seen = new Map<string, string>();
    for (const [id, e] of Object.entries(config[section] as Record<string, { name?: string }>)) {
      const name = e.name ?? id;
      const other = seen.get(name);
      if (other === undefined) {
        seen.set(name, id);
        continue;
      }
      problems.push({
        path: [section, id, 'name'],
        message: `"${other}" and "${id}" have the same name "${name}"${section === 'outboundTrunks' ? '; a transfer names its outbound trunk by name, so it could dial through either' : '; --adopt and people tell objects apart by name'}`,
        fix: `give "${id}" a name of its own`,
        ...(section === 'outboundTrunks' ? {} : { severity: 'warning' as const }),
      });
    }
  }
  return problems;
}

function openTrunkWarnings(config: SipConfig): ConfigProblem[] {
  return Object.entries(config.inboundTrunks).flatMap(([id, t]): ConfigProblem[] => {
    const open = t.auth === undefined && t.allowedAddresses.length === 0;
    if (t.allowAnySource === true && !open)
      return [
        {
          path: ['inboundTrunks', id, 'allowAnySource'],
          message: 'allowAnySource is set, but the trunk has auth or allowedAddresses',
          fix: 'remove allowAnySource (it only acknowledges a trunk with neither)',
        },
      ];
    if (!open || t.allowAnySource === true) return [];
    return [
      {
        path: ['inboundTrunks', id],
        message: `trunk "${id}" has neither auth nor allowedAddresses: anyone who can reach the SIP service can call ${t.numbers.length === 0 ? 'through it' : t.numbers.join(', ')}`,
        fix: "add allowedAddresses (your carrier's signalling IPs) or auth; or set allowAnySource: true if this is on purpose",
        severity: 'warning',
      },
    ];
  });
}

/** serverFields must be fields of the protocol's object (the server would refuse the rest). */
function serverFieldProblems(config: SipConfig): ConfigProblem[] {
  const decoders = {
    inboundTrunks: (j: unknown) => SIPInboundTrunkInfo.fromJson(j as never),
    outboundTrunks: (j: unknown) => SIPOutboundTrunkInfo.fromJson(j as never),
    dispatchRules: (j: unknown) => SIPDispatchRuleInfo.fromJson(j as never),
  };
  const problems: ConfigProblem[] = [];
  for (const section of ['inboundTrunks', 'outboundTrunks', 'dispatchRules'] as const) {
    const entries = config[section] as Record<string, { serverFields: Record<string, unknown> }>;
    for (const [id, e] of Object.entries(entries)) {
      if (Object.keys(e.serverFields).length === 0) continue;
      try {
        decoders[section](e.serverFields);
      } catch (err) {
        problems.push({
          path: [section, id, 'serverFields'],
          message: `not fields of the server's object: ${(err as Error).message}`,
          fix: 'use the protocol JSON names, as export writes them (e.g. media: { codecs: [...] })',
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
