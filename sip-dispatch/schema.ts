import { z } from 'zod';

/** The desired SIP configuration, as written in a sip-dispatch YAML file. */
const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-"');
const phoneNumber = z.string().regex(/^\+?[0-9]{3,15}$/, 'digits, optionally starting with +');

export const InboundTrunkSpec = z
  .object({
    name,
    numbers: z.array(phoneNumber).default([]),
    allowedAddresses: z.array(z.string()).default([]),
    allowedNumbers: z.array(phoneNumber).default([]),
  })
  .strict();

export const DispatchRuleSpec = z
  .object({
    name,
    type: z.enum(['individual', 'direct']),
    roomPrefix: z.string().optional(),
    roomName: z.string().optional(),
    trunks: z.array(name).default([]),
    agents: z
      .array(z.object({ name: z.string().min(1), metadata: z.string().optional() }).strict())
      .default([]),
  })
  .strict()
  .refine((r) => r.type !== 'direct' || r.roomName !== undefined, {
    message: 'a direct rule needs roomName',
  });

export const SipConfigSpec = z
  .object({
    inboundTrunks: z.array(InboundTrunkSpec).default([]),
    dispatchRules: z.array(DispatchRuleSpec).default([]),
  })
  .strict();

export type InboundTrunkSpec = z.infer<typeof InboundTrunkSpec>;
export type DispatchRuleSpec = z.infer<typeof DispatchRuleSpec>;
export type SipConfigSpec = z.infer<typeof SipConfigSpec>;

/** Whole-set checks the schema cannot express: unique names, rules naming existing trunks. */
export function validateSipConfig(spec: SipConfigSpec): string[] {
  const problems: string[] = [];
  const trunkNames = new Set<string>();
  for (const t of spec.inboundTrunks) {
    if (trunkNames.has(t.name)) problems.push(`inboundTrunks: the name "${t.name}" is used twice`);
    trunkNames.add(t.name);
  }
  const ruleNames = new Set<string>();
  for (const r of spec.dispatchRules) {
    if (ruleNames.has(r.name)) problems.push(`dispatchRules: the name "${r.name}" is used twice`);
    ruleNames.add(r.name);
    for (const t of r.trunks) {
      if (!trunkNames.has(t))
        problems.push(`dispatchRules.${r.name}: trunk "${t}" is not defined in inboundTrunks`);
    }
  }
  return problems;
}
