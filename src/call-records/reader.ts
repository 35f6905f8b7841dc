import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallRecordSchema, type CallRecord } from './schema.js';

export interface ReadCallRecordsOptions {
  /**
   * Told about a torn last line (a process killed while it appended), which is skipped. Default:
   * a warning on stderr.
   */
  onTornLine?: (file: string, line: number) => void;
}

/**
 * Reads every record in `dir`, validating each line. A bad line throws with its file and line,
 * except a file's last line without its newline: that is a torn write, skipped with a warning.
 */
export async function readCallRecords(
  dir: string,
  options: ReadCallRecordsOptions = {},
): Promise<CallRecord[]> {
  const onTornLine =
    options.onTornLine ??
    ((file: string, line: number) =>
      process.emitWarning(`${file}:${line}: skipped a torn call record (an interrupted write)`));
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
    // Every complete line ends with a newline, so the text after the last one is torn if any.
    const tornIndex = lines.length - 1;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (err) {
        if (i === tornIndex) return onTornLine(file, i + 1);
        throw new Error(`${file}:${i + 1}: not JSON: ${(err as Error).message}`);
      }
      const parsed = CallRecordSchema.safeParse(json);
      if (!parsed.success) {
        if (i === tornIndex) return onTornLine(file, i + 1);
        throw new Error(`${file}:${i + 1}: not a valid call record: ${parsed.error.message}`);
      }
      records.push(parsed.data);
    });
  }
  return records;
}
