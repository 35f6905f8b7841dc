import { randomUUID } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SwitchboardError } from '../errors/index.js';

/**
 * Creates `dir` if needed and proves a file can be created in it, so a read-only volume or a
 * wrong path stops the worker at start instead of losing the first call's record.
 */
export async function assertWritableDir(
  dir: string,
  what: string,
  fix: string,
  mode?: number,
): Promise<void> {
  const probe = join(dir, `.write-check-${process.pid}-${randomUUID()}`);
  try {
    await mkdir(dir, { recursive: true, ...(mode === undefined ? {} : { mode }) });
    await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SwitchboardError(
      'records_dir_unwritable',
      `Cannot write ${what} in ${dir} (${reason}). ${fix}`,
      { cause: err },
    );
  }
  await unlink(probe);
}
