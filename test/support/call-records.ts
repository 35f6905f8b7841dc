import { inject } from 'vitest';
import { readCallRecords, type CallRecord } from '../../src/call-records/index.js';
import { eventually } from './stack-env.js';

/** Waits for the agent's call record matching `match` and returns it. */
export async function waitForCallRecord(
  what: string,
  match: (r: CallRecord) => boolean,
): Promise<CallRecord> {
  let found: CallRecord | undefined;
  await eventually(`a call record of ${what}`, async () => {
    found = (await readCallRecords(inject('recordsDir'))).find(match);
    return found !== undefined;
  });
  if (found === undefined) throw new Error('unreachable');
  return found;
}

export async function allCallRecords(): Promise<CallRecord[]> {
  return readCallRecords(inject('recordsDir'));
}
