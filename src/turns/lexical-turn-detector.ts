import type { llm } from '@livekit/agents';

/**
 * Words a finished English sentence does not end on: articles, prepositions, conjunctions,
 * auxiliaries and subject pronouns, possessives, and fillers. A caller who pauses after one of
 * them ("my account number is ...", "I'd like to book an appointment for ...") is mid-sentence.
 */
const CONTINUING_WORDS: ReadonlySet<string> = new Set(
  (
    'a an the this that these those my your our their his her its ' +
    'to for of in on at with from about by into onto over under after before between through ' +
    'and or but because so if than then when while as ' +
    'is are was were am be been being will would can could should shall may might must ' +
    'do does did have has had ' +
    'i we you they he she it ' +
    'um uh er erm hmm like'
  ).split(' '),
);

/** The unlikely-to-end probability, well under the threshold; and the likely one, well over it. */
const CONTINUING = 0.05;
const FINISHED = 0.95;
export const LEXICAL_UNLIKELY_THRESHOLD = 0.5;

/** The last word of a transcript, lower-case, without punctuation. */
export function lastWord(transcript: string): string | undefined {
  const words = transcript
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  return words.at(-1);
}

/** End-of-turn probability of what the caller has said so far in this turn. */
export function endOfTurnProbability(transcript: string): number {
  const word = lastWord(transcript);
  if (word === undefined) return FINISHED;
  return CONTINUING_WORDS.has(word) ? CONTINUING : FINISHED;
}

/**
 * A text end-of-turn detector for English: a turn whose transcript so far ends on a word no
 * sentence ends on is "unlikely finished", and the framework then waits the endpointing maximum
 * for more speech instead of the minimum. It needs no model and no network (the framework's own
 * audio model scored this project's telephone speech below its threshold on complete questions;
 * see bench/RESULTS.md), and it decides in microseconds. It cannot hear a question that is
 * grammatically complete but unfinished ("my number is four five six ... seven"): that is the
 * endpointing maximum's job.
 */
export class LexicalTurnDetector {
  readonly model = 'lexical-english';
  readonly provider = 'switchboard';

  unlikelyThreshold(): Promise<number> {
    return Promise.resolve(LEXICAL_UNLIKELY_THRESHOLD);
  }

  supportsLanguage(language?: string): Promise<boolean> {
    return Promise.resolve(language === undefined || language === '' || /^en\b/i.test(language));
  }

  predictEndOfTurn(chatCtx: llm.ChatContext): Promise<number> {
    const lastUser = [...chatCtx.items]
      .reverse()
      .find((item) => item.type === 'message' && item.role === 'user');
    const text = lastUser?.type === 'message' ? (lastUser.textContent ?? '') : '';
    return Promise.resolve(endOfTurnProbability(text));
  }
}
