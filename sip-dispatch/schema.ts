import { z } from 'zod';

/**
 * The sip-dispatch file: trunks and dispatch rules keyed by a stable id (the marker stored in each
 * server object's metadata), and per-environment overrides of the same shape.
 */
export const entryId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lower-case letters, digits and "-" (at most 63)');
const phoneNumber = z
  .string()
  .regex(
    /^\+?[0-9][0-9 ()-]{1,20}$/,
    'use digits, optionally starting with + (E.164, e.g. +15550100)',
  );
const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'use the name of an environment variable, e.g. SIP_TRUNK_PASSWORD');
const addressMask = z
  .string()
  .regex(
    /^[^()+*;, \t\n\r]+$/,
    'use an IP address, a CIDR (e.g. 192.0.2.0/24) or a host name, without spaces or commas',
  )
  .refine((v) => !v.includes('://'), 'use an address, not a URL');
const headerMap = z.record(z.string().min(1), z.string());

const auth = z
  .object({
    username: z.string().min(1),
    /** The password never appears in the file: the name of the variable holding it. */
    passwordEnv: envName,
  })
  .strict();

export const InboundTrunkEntry = z
  .object({
    /** Display name on the server; the entry's id by default. */
    name: z.string().min(1).optional(),
    /** Ids this entry had before a rename: their server objects are taken over, not recreated. */
    previousIds: z.array(entryId).default([]),
    numbers: z.array(phoneNumber).default([]),
    allowedAddresses: z.array(addressMask).default([]),
    allowedNumbers: z.array(phoneNumber).default([]),
    auth: auth.optional(),
    headersToAttributes: headerMap.default({}),
    includeHeaders: z.enum(['none', 'x-headers', 'all']).default('none'),
    noiseCancellation: z.boolean().default(false),
    ringingTimeoutMs: z.number().int().min(1000).multipleOf(1000).optional(),
    maxCallDurationMs: z.number().int().min(1000).multipleOf(1000).optional(),
  })
  .strict();

export const OutboundTrunkEntry = z
  .object({
    name: z.string().min(1).optional(),
    previousIds: z.array(entryId).default([]),
    address: z
      .string()
      .regex(/^[^\s:/]+(:[0-9]{1,5})?$/, 'use host or host:port, e.g. sip.example.com:5060'),
    transport: z.enum(['auto', 'udp', 'tcp', 'tls']).default('auto'),
    numbers: z.array(phoneNumber).min(1, 'an outbound trunk needs at least one number'),
    auth: auth.optional(),
    headers: headerMap.default({}),
  })
  .strict();

const agent = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'an agent name as the worker registers it'),
    /** Job metadata: a string, or an object that is sent as JSON (e.g. the agent's call options). */
    metadata: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  })
  .strict();

export const DispatchRuleEntry = z
  .object({
    name: z.string().min(1).optional(),
    previousIds: z.array(entryId).default([]),
    /** individual: a room per call; direct: every call into roomName; callee: a room per called number. */
    type: z.enum(['individual', 'direct', 'callee']),
    roomPrefix: z.string().optional(),
    roomName: z.string().min(1).optional(),
    randomize: z.boolean().optional(),
    pin: z
      .string()
      .regex(/^[0-9]{1,16}$/, 'a PIN is 1 to 16 digits')
      .optional(),
    /** Inbound trunk ids; none means every trunk. */
    trunks: z.array(entryId).default([]),
    calledNumbers: z.array(phoneNumber).default([]),
    callerNumbers: z.array(phoneNumber).default([]),
    attributes: headerMap.default({}),
    hidePhoneNumber: z.boolean().default(false),
    agents: z.array(agent).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.type === 'direct' && r.roomName === undefined)
      ctx.addIssue({ code: 'custom', path: ['roomName'], message: 'a direct rule needs roomName' });
    if (r.type !== 'direct' && r.roomName !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['roomName'],
        message: `roomName is only for direct rules; use roomPrefix for ${r.type} rules`,
      });
    if (r.type === 'direct' && r.roomPrefix !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['roomPrefix'],
        message: 'a direct rule has no roomPrefix; it uses roomName',
      });
    if (r.type !== 'callee' && r.randomize !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['randomize'],
        message: 'randomize is only for callee rules',
      });
  });

const section = <T extends z.ZodType>(entry: T) => z.record(entryId, entry).default({});

export const SipConfig = z
  .object({
    inboundTrunks: section(InboundTrunkEntry),
    outboundTrunks: section(OutboundTrunkEntry),
    dispatchRules: section(DispatchRuleEntry),
  })
  .strict();

/** An override: per entry, fields that replace the base's (lists and maps as a whole), or null to drop it. */
const overrides = z
  .record(entryId, z.union([z.null(), z.record(z.string(), z.unknown())]))
  .optional();
export const SipConfigFile = z
  .object({
    inboundTrunks: z.record(z.string(), z.unknown()).optional(),
    outboundTrunks: z.record(z.string(), z.unknown()).optional(),
    dispatchRules: z.record(z.string(), z.unknown()).optional(),
    environments: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
        z
          .object({
            inboundTrunks: overrides,
            outboundTrunks: overrides,
            dispatchRules: overrides,
          })
          .strict()
          .nullable(),
      )
      .optional(),
  })
  .strict();

export type InboundTrunkEntry = z.infer<typeof InboundTrunkEntry>;
export type OutboundTrunkEntry = z.infer<typeof OutboundTrunkEntry>;
export type DispatchRuleEntry = z.infer<typeof DispatchRuleEntry>;
export type SipConfig = z.infer<typeof SipConfig>;
export type SipConfigFile = z.infer<typeof SipConfigFile>;

export const SECTIONS = ['inboundTrunks', 'outboundTrunks', 'dispatchRules'] as const;
export type Section = (typeof SECTIONS)[number];
