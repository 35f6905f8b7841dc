import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { STACK_DIR, STATE_FILE } from './paths.js';

const ProcessRecordSchema = z.object({
  name: z.string(),
  pid: z.number().int(),
  startTicks: z.string(),
  argv: z.array(z.string()),
  log: z.string(),
});

const StackStateSchema = z.object({
  mode: z.enum(['netns', 'loopback']),
  /** Set when this stack created the namespace, so `down` deletes only what it created. */
  createdNamespace: z.string().optional(),
  /** LiveKit nodes (livekit-server + livekit-sip pairs); state files from before nodes mean 1. */
  nodes: z.number().int().min(1).default(1),
  services: z.array(ProcessRecordSchema),
});

export type StackState = z.infer<typeof StackStateSchema>;

export async function readState(): Promise<StackState | undefined> {
  let text: string;
  try {
    text = await readFile(STATE_FILE, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = StackStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(
      `${STATE_FILE} is not a stack state file; remove it after checking no stack process runs`,
    );
  return parsed.data;
}

export async function writeState(state: StackState): Promise<void> {
  await mkdir(STACK_DIR, { recursive: true });
  await writeFile(STATE_FILE, JSON.stringify(state, null, 2));
}

export async function clearState(): Promise<void> {
  await rm(STATE_FILE, { force: true });
}
