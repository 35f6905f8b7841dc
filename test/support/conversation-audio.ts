import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ScriptedLine {
  /** When the caller starts saying it, counted from the start of the audio. Unit: seconds. */
  atSeconds: number;
  text: string;
  /** The rest of the sentence, said after a pause (a caller thinking mid-sentence). */
  continuation?: { pauseMs: number; text: string };
}

/**
 * When each line was said, counted from the start of the audio: from its first sound to its last
 * (espeak-ng's own leading and trailing silence is cut off). Unit: seconds.
 */
export interface SpokenLine {
  startS: number;
  endS: number;
  /** The pause of a line with a continuation. */
  pause?: { startS: number; endS: number };
}

/** sox effects that cut silence (below -50 dBFS) off both ends of a recording. */
const TRIM_SILENCE = [
  'silence',
  '1',
  '0.005',
  '-50d',
  'reverse',
  'silence',
  '1',
  '0.005',
  '-50d',
  'reverse',
];

/**
 * One caller's side of a conversation as audio: espeak-ng phrases at fixed times over silence,
 * rendered twice from the same samples: raw G.711 µ-law 8 kHz for SIPp's RTP stream, and a
 * 48 kHz WAV for Chromium's fake microphone. Both loop at the end, so the audio ends in silence
 * longer than any call.
 */
export async function renderConversation(
  dir: string,
  lines: ScriptedLine[],
  totalSeconds: number,
  /** espeak-ng's voice (`-v`) and speed (`-s`, words per minute). Default: en-us, 175. */
  speaker: { voice?: string; wordsPerMinute?: number } = {},
): Promise<{ ulaw: string; wav: string; spoken: SpokenLine[] }> {
  const parts: string[] = [];
  const spoken: SpokenLine[] = [];
  let cursor = 0;
  const say = async (file: string, text: string): Promise<number> => {
    const spokenRaw = `${file}.espeak.wav`;
    await run('espeak-ng', [
      '-v',
      speaker.voice ?? 'en-us',
      '-s',
      String(speaker.wordsPerMinute ?? 175),
      '-w',
      spokenRaw,
      text,
    ]);
    // espeak-ng ends every utterance with about 300 ms of silence (and starts some with up to
    // 30 ms). Left in, "end of speech" would be 300 ms after the caller fell silent, and a
    // 300 ms pause mid-sentence would be 600 ms of silence.
    await run('sox', [spokenRaw, file, ...TRIM_SILENCE]);
    const { stdout } = await run('soxi', ['-D', file]);
    return Number(stdout.trim());
  };
  for (const [i, line] of lines.entries()) {
    const speech = join(dir, `line-${i}.wav`);
    const gap = join(dir, `gap-${i}.wav`);
    await writeSilence(gap, 22_050, Math.max(0.01, line.atSeconds - cursor));
    cursor = line.atSeconds + (await say(speech, line.text));
    parts.push(gap, speech);
    if (line.continuation === undefined) {
      spoken.push({ startS: line.atSeconds, endS: cursor });
      continue;
    }
    const pause = join(dir, `pause-${i}.wav`);
    const rest = join(dir, `line-${i}-rest.wav`);
    await writeSilence(pause, 22_050, line.continuation.pauseMs / 1000);
    const pauseStartS = cursor;
    const pauseEndS = cursor + line.continuation.pauseMs / 1000;
    cursor = pauseEndS + (await say(rest, line.continuation.text));
    parts.push(pause, rest);
    spoken.push({
      startS: line.atSeconds,
      endS: cursor,
      pause: { startS: pauseStartS, endS: pauseEndS },
    });
  }
  const tail = join(dir, 'tail.wav');
  await writeSilence(tail, 22_050, Math.max(1, totalSeconds - cursor));
  const full = join(dir, 'conversation.wav');
  await run('sox', [...parts, tail, full]);
  const ulaw = join(dir, 'conversation.ulaw');
  const wav = join(dir, 'conversation-48k.wav');
  await run('sox', [full, '-r', '8000', '-c', '1', '-t', 'raw', '-e', 'u-law', '-b', '8', ulaw]);
  await run('sox', [full, '-r', '48000', '-c', '1', '-b', '16', wav]);
  return { ulaw, wav, spoken };
}

/** Writes `seconds` of digital silence as a mono 16-bit WAV at `sampleRate`. */
export async function writeSilence(
  file: string,
  sampleRate: number,
  seconds: number,
): Promise<void> {
  await run('sox', [
    '-n',
    '-r',
    String(sampleRate),
    '-c',
    '1',
    '-b',
    '16',
    file,
    'trim',
    '0',
    String(seconds),
  ]);
}
