import { describe, expect, it } from 'vitest';
import {
  GOODBYE,
  grammarPhrases,
  jsgfGrammar,
  nextTurn,
  NOT_UNDERSTOOD,
} from '../../stack/offline-speech/scripted-dialog.js';

const user = (content: string) => ({ role: 'user', content });

describe('the scripted dialog (offline stand-in, not AI)', () => {
  it.each([
    ['hello', /opening hours or where we are/],
    ['Good morning.', /opening hours or where we are/],
    ['what are your opening hours', /Monday to Friday/],
    ['where are you located', /Main Street/],
    ['', new RegExp(NOT_UNDERSTOOD.slice(0, 20))],
    ['tell me a joke', new RegExp(NOT_UNDERSTOOD.slice(0, 20))],
  ])('answers %j', (said, reply) => {
    const turn = nextTurn([user(said)], ['end_call']);
    expect(turn.kind).toBe('text');
    if (turn.kind === 'text') expect(turn.text).toMatch(reply);
  });

  it('calls end_call on goodbye when the agent offers it, and says goodbye after the tool ran', () => {
    expect(nextTurn([user('thank you goodbye')], ['end_call'])).toEqual({
      kind: 'tool_call',
      name: 'end_call',
      arguments: '{}',
    });
    const afterTool = nextTurn(
      [
        user('goodbye'),
        { role: 'assistant', tool_calls: [{ function: { name: 'end_call' } }] },
        { role: 'tool', content: '' },
      ],
      ['end_call'],
    );
    expect(afterTool).toEqual({ kind: 'text', text: GOODBYE });
  });

  it('sends tones with the keys as arguments, and refuses politely when the tool is not offered', () => {
    expect(nextTurn([user('press one two three on the keypad')], ['send_dtmf_events'])).toEqual({
      kind: 'tool_call',
      name: 'send_dtmf_events',
      arguments: '{"events":["1","2","3"]}',
    });
    expect(nextTurn([user('press one two three on the keypad')], [])).toEqual({
      kind: 'text',
      text: NOT_UNDERSTOOD,
    });
  });

  it('says goodbye in words when no end_call tool is offered', () => {
    expect(nextTurn([user('goodbye')], [])).toEqual({ kind: 'text', text: GOODBYE });
  });

  it('builds the recognizer grammar from exactly the phrases it answers', () => {
    const grammar = jsgfGrammar();
    for (const phrase of grammarPhrases()) expect(grammar).toContain(phrase);
    expect(grammar).not.toMatch(/\| bye\b/);
  });
});
