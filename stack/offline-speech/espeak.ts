import { spawn } from 'node:child_process';

/** OpenAI's `pcm` response format: 24 kHz, 16-bit signed little-endian, mono. */
export const PCM_SAMPLE_RATE = 24_000;

/**
 * Speaks `text` with espeak-ng and converts it with sox to OpenAI's `pcm` format. The text goes
 * through stdin, never the command line, so no input can become an argument.
 */
export async function synthesizePcm(
  text: string,
  opts: { wordsPerMinute: number; signal?: AbortSignal },
): Promise<Buffer> {
  const espeak = spawn(
    'espeak-ng',
    ['--stdin', '--stdout', '-v', 'en-us', '-s', String(opts.wordsPerMinute)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    },
  );
  const sox = spawn(
    'sox',
    [
      '-q',
      '-t',
      'wav',
      '-',
      '-t',
      'raw',
      '-r',
      String(PCM_SAMPLE_RATE),
      '-e',
      'signed-integer',
      '-b',
      '16',
      '-c',
      '1',
      '-',
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    },
  );
  espeak.stdout.pipe(sox.stdin);
  espeak.stdin.end(text);

  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  sox.stdout.on('data', (c: Buffer) => chunks.push(c));
  espeak.stderr.on('data', (c: Buffer) => errors.push(c));
  sox.stderr.on('data', (c: Buffer) => errors.push(c));

  const [espeakCode, soxCode] = await Promise.all([exitCode(espeak), exitCode(sox)]);
  if (espeakCode !== 0 || soxCode !== 0) {
    throw new Error(
      `speech synthesis failed (espeak-ng exit ${espeakCode}, sox exit ${soxCode}): ${Buffer.concat(errors).toString().trim()}`,
    );
  }
  return Buffer.concat(chunks);
}

function exitCode(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
}
