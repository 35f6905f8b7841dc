import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SwitchboardError } from '../errors/index.js';
import { E164_HINT, parseE164 } from './e164.js';

/**
 * Numbers never to dial: one per line, E.164, `#` starts a comment. A line may be a CSV row whose
 * first field is the number (an export from another system), and a header line such as "number"
 * is ignored. A number that cannot be read is an error rather than skipped: a do-not-call entry
 * silently dropped is a call someone asked not to get.
 */
export async function readDoNotCallList(file: string): Promise<ReadonlySet<string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SwitchboardError(
      'campaign_options_invalid',
      `Cannot read the do-not-call list ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check --dnc.`,
      { cause: err },
    );
  }
  return parseDoNotCallList(text, file);
}

export function parseDoNotCallList(text: string, file: string): ReadonlySet<string> {
  const numbers = new Set<string>();
  const broken: number[] = [];
  text.split('\n').forEach((content, index) => {
    const field = (content.replace(/^\uFEFF/, '').split('#')[0] ?? '').split(',')[0]?.trim() ?? '';
    if (field === '' || (index === 0 && /^[a-z_ ]+$/i.test(field))) return;
    const number = parseE164(field.replace(/^"|"$/g, ''));
    if (number === undefined) broken.push(index + 1);
    else numbers.add(number);
  });
  if (broken.length > 0)
    throw new SwitchboardError(
      'campaign_options_invalid',
      `The do-not-call list ${basename(file)} has entries that are not phone numbers at line(s) ${broken.slice(0, 50).join(', ')}${broken.length > 50 ? ` and ${broken.length - 50} more` : ''}; ${E164_HINT}. Nothing was dialled.`,
    );
  return numbers;
}
