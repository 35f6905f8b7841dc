import { z } from 'zod';
import { addressProblem } from './addresses.js';
import type { Kind } from './model.js';
import { MODELLED, modelledPaths } from './protocol-fields.js';

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
const addressMask = z.string().superRefine((v, ctx) => {
  const problem = addressProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
/** A SIP header name (RFC 3261 token), e.g. X-Customer-Tier. */
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'use a SIP header name, e.g. X-Customer-Tier');
const headerMap = z.record(headerName, z.string());
/** SIP header name → participant attribute. */
const headersToAttributes = z.record(headerName, z.string().min(1));
/** Participant attribute → SIP header name. */
const attributesToHeaders = z.record(z.string().min(1), headerName);
const attributeMap = z.record(z.string().min(1), z.string());
const includeHeaders = z.enum(['none', 'x-headers', 'all']).default('none');
/** SRTP: disable (plain RTP), allow (SRTP if the other side offers it), require. */
const mediaEncryption = z.enum(['disable', 'allow', 'require']).default('disable');
const wholeSeconds = z.number().int().min(1000).multipleOf(1000);
/** Job or room metadata: a string, or an object that is sent as JSON. */
const metadata = z.union([z.string(), z.record(z.string(), z.unknown())]);

const auth = z
  .object({
    username: z.string().min(1),
    /** The password never appears in the file: the name of the variable holding it. */
    passwordEnv: envName,
    /** Digest realm livekit-sip challenges with; the server's default when omitted. */
    realm: z.string().min(1).optional(),
  })
  .strict();

/**
 * Protocol fields sip-dispatch does not model, as the server's JSON names them (export writes
 * them); a modelled field here is refused, since it has its own key.
 */
const serverFields = (kind: Kind) =>
  z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((fields, ctx) => {
      for (const path of modelledPaths(fields, MODELLED[kind])) {
        ctx.addIssue({
          code: 'custom',
          path: [path],
          message: `${path} is a field sip-dispatch models; set it with the entry's own key (docs/provisioning.md lists them), not in serverFields`,
        });
      }
    });

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
    /** Acknowledges a trunk with neither auth nor allowedAddresses (else validate warns). */
    allowAnySource: z.boolean().optional(),
    headers: headerMap.default({}),
    headersToAttributes: headersToAttributes.default({}),
    attributesToHeaders: attributesToHeaders.default({}),
    includeHeaders,
    noiseCancellation: z.boolean().default(false),
    mediaEncryption,
    ringingTimeoutMs: wholeSeconds.optional(),
    maxCallDurationMs: wholeSeconds.optional(),
    mediaTimeoutMs: wholeSeconds.optional(),
    serverFields: serverFields('inboundTrunk'),
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
    auth: auth.omit({ realm: true }).strict().optional(),
    destinationCountry: z
      .string()
      .regex(/^[A-Z]{2}$/, 'use an ISO 3166-1 alpha-2 country code in capitals, e.g. US')
      .optional(),
    fromHost: z
      .string()
      .regex(
        /^(?!sips?:)[^\s@;:/]+(:[0-9]{1,5})?$/,
        'use a host name or IP (with an optional :port), not a SIP URI, e.g. sip.example.com',
      )
      .optional(),
    headers: headerMap.default({}),
    headersToAttributes: headersToAttributes.default({}),
    attributesToHeaders: attributesToHeaders.default({}),
    includeHeaders,
    mediaEncryption,
    serverFields: serverFields('outboundTrunk'),
  })
  .strict();

const agent = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'an agent name as the worker registers it'),
    /** Job metadata: the agent's call options (src/dispatch/call-options.ts), as an object or JSON. */
    metadata: metadata.optional(),
    /** Attributes of the agent's participant. */
    attributes: attributeMap.default({}),
  })
  .strict();

const room = z
  .object({
    /** The room closes this long after it was created if nobody joined. Whole seconds. */
    emptyTimeoutMs: wholeSeconds.optional(),
    /** The room closes this long after the last participant left. Whole seconds. */
    departureTimeoutMs: wholeSeconds.optional(),
    maxParticipants: z.number().int().min(1).optional(),
    metadata: metadata.optional(),
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
    /** The PIN from this environment variable, as passwords are (never shown). */
    pinEnv: envName.optional(),
    /** Inbound trunk ids; none means every trunk. */
    trunks: z.array(entryId).default([]),
    calledNumbers: z.array(phoneNumber).default([]),
    callerNumbers: z.array(phoneNumber).default([]),
    attributes: attributeMap.default({}),
    hidePhoneNumber: z.boolean().default(false),
    noiseCancellation: z.boolean().default(false),
    mediaEncryption,
    room: room.optional(),
    agents: z.array(agent).default([]),
    serverFields: serverFields('dispatchRule'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.pin !== undefined && r.pinEnv !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['pin'],
        message: 'a rule has pin or pinEnv, not both',
      });
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
