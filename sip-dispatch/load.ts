import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { SipConfigSpec, validateSipConfig } from './schema.js';

/** Reads and validates a whole file; every problem is reported at once, nothing is applied. */
export async function loadSipConfig(path: string): Promise<SipConfigSpec> {
  const parsed = SipConfigSpec.safeParse(parse(await readFile(path, 'utf8')));
  const problems = parsed.success
    ? validateSipConfig(parsed.data)
    : [z.prettifyError(parsed.error)];
  if (!parsed.success || problems.length > 0) {
    throw new Error(
      `${path} is not a valid sip-dispatch config; nothing was applied:\n${problems.join('\n')}`,
    );
  }
  return parsed.data;
}
