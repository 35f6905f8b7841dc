import { describe, expect, it } from 'vitest';
import { isCancelledRequest } from '../../src/models/cancelled-request.js';

/** The OpenAI SDK's error for a request its caller aborted (same class name, same message). */
class APIUserAbortError extends Error {
  constructor() {
    super('Request was aborted.');
  }
}

describe('a model request the agent cancelled is not a model failure', () => {
  it.each([
    [
      "the OpenAI SDK's abort, inside the session's error event",
      { type: 'tts_error', error: new APIUserAbortError(), recoverable: false },
      true,
    ],
    [
      'an AbortError',
      Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }),
      true,
    ],
    [
      'an abort as the cause of another error',
      new Error('synthesis failed', {
        cause: Object.assign(new Error('x'), { name: 'AbortError' }),
      }),
      true,
    ],
    [
      'a 500 from the model server',
      { type: 'tts_error', error: Object.assign(new Error('500 status code'), { status: 500 }) },
      false,
    ],
    [
      'a refused connection',
      { type: 'llm_error', error: new Error('connect ECONNREFUSED 10.77.0.2:8090') },
      false,
    ],
    ['no error at all', undefined, false],
  ])('%s: %s', (_what, error, cancelled) => {
    expect(isCancelledRequest(error)).toBe(cancelled);
  });
});
