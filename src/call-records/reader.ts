import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallRecordSchema, type CallRecord } from './schema.js';

/** Reads every record in `dir`, validating each line; a bad line throws with its file and line. */
export async function readCallRecords(dir: string): Promise<CallRecord[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /^calls-\d{4}-\d{2}-\d{2}\.jsonl$/.test(f)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: CallRecord[] = [];
  for (const file of files) {
    const lines = (await readFile(join(dir, file), 'utf8')).split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const parsed = CallRecordSchema.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new Error(`${file}:${i + 1}: not a valid call record: ${parsed.error.message}`);
      records.push(parsed.data);
    });
  }
  return records;
}
