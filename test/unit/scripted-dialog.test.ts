import { describe, expect, it } from 'vitest';
import { TOOL_FAILURE_MESSAGE } from '../../src/call/tool-guard.js';
import {
  GOODBYE,
  grammarPhrases,
  INTENTS,
  jsgfGrammar,
  nextTurn,
  NOT_UNDERSTOOD,
  NOT_UNDERSTOOD_APPOINTMENTS,
  OPENING,
  TOOL_FAILED,
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

describe('the scripted dialog for the appointment line', () => {
  const APPOINTMENT_TOOLS = ['find_free_slots', 'book_appointment', 'end_call'];
  const RECEPTIONIST_TOOLS = [
    'collect_account_number',
    'send_dtmf_events',
    'transfer_to_human',
    'transfer_call',
    'end_call',
  ];
  /** The conversation after the dialog called `name` and the tool returned `content`. */
  const afterTool = (name: string, content: string) => [
    user('whatever the caller said'),
    { role: 'assistant', tool_calls: [{ function: { name } }] },
    { role: 'tool', content },
  ];

  it.each([
    ['when can i come in today', 'find_free_slots', { day: 'today' }],
    ['when can i come in tomorrow', 'find_free_slots', { day: 'tomorrow' }],
    ['When can I come in tomorrow?', 'find_free_slots', { day: 'tomorrow' }],
    [
      'book an appointment for this afternoon',
      'book_appointment',
      { day: 'today', time: 'afternoon' },
    ],
    [
      'book an appointment for tomorrow morning',
      'book_appointment',
      { day: 'tomorrow', time: 'morning' },
    ],
    [
      'Please book an appointment for tomorrow afternoon.',
      'book_appointment',
      { day: 'tomorrow', time: 'afternoon' },
    ],
    ['thank you goodbye', 'end_call', {}],
  ])('%j calls %s with %j', (said, tool, args) => {
    const turn = nextTurn([user(said)], APPOINTMENT_TOOLS);
    expect(turn).toMatchObject({ kind: 'tool_call', name: tool });
    if (turn.kind === 'tool_call') expect(JSON.parse(turn.arguments)).toEqual(args);
  });

  it.each([
    [
      'find_free_slots',
      '{"day":"tomorrow","slots":["nine thirty","eleven"]}',
      'We have free times tomorrow at nine thirty and eleven.',
    ],
    [
      'find_free_slots',
      '{"day":"today","slots":["two","three fifteen","four"]}',
      'We have free times today at two, three fifteen and four.',
    ],
    [
      'find_free_slots',
      '{"day":"today","slots":["eleven"]}',
      'We have free times today at eleven.',
    ],
    ['find_free_slots', '{"day":"today","slots":[]}', 'Sorry, there are no free times today.'],
    ['find_free_slots', 'not json', 'Sorry, I could not look up the free times.'],
    [
      'book_appointment',
      '{"booked":true,"day":"tomorrow","time":"morning","reference":"AB12"}',
      'Your appointment is booked for tomorrow morning. Your reference is A B 1 2.',
    ],
    [
      'book_appointment',
      '{"booked":true,"day":"today","time":"afternoon","reference":"x7k"}',
      'Your appointment is booked for this afternoon. Your reference is X 7 K.',
    ],
    [
      'book_appointment',
      '{"booked":true,"day":"tomorrow","time":"afternoon"}',
      'Your appointment is booked for tomorrow afternoon.',
    ],
    [
      'book_appointment',
      '{"booked":false,"reason":"there is no free time tomorrow morning."}',
      'Sorry, I could not book the appointment: there is no free time tomorrow morning.',
    ],
    ['book_appointment', '{"booked":false}', 'Sorry, I could not book the appointment.'],
    ['book_appointment', '', 'Sorry, I could not book the appointment.'],
  ])('after %s returned %s, says %j', (tool, result, reply) => {
    expect(nextTurn(afterTool(tool, result), APPOINTMENT_TOOLS)).toEqual({
      kind: 'text',
      text: reply,
    });
  });

  it.each([
    'when can i come in today',
    'when can i come in tomorrow',
    'book an appointment for this afternoon',
    'book an appointment for tomorrow morning',
    'book an appointment for tomorrow afternoon',
  ])('does not understand %j when the agent does not offer the tool', (said) => {
    for (const tools of [RECEPTIONIST_TOOLS, [], ['end_call']])
      expect(nextTurn([user(said)], tools)).toEqual({ kind: 'text', text: NOT_UNDERSTOOD });
    // Only the tool that phrase calls counts: offering the other appointment tool is not enough.
    const other = said.startsWith('book') ? 'find_free_slots' : 'book_appointment';
    expect(nextTurn([user(said)], [other])).toEqual({
      kind: 'text',
      text: NOT_UNDERSTOOD_APPOINTMENTS,
    });
  });

  it('answers every other phrase the same whether or not the appointment tools are offered', () => {
    const appointmentTools = new Set(['find_free_slots', 'book_appointment']);
    const others = INTENTS.filter(
      (i) => !('tool' in i.reply && appointmentTools.has(i.reply.tool)),
    ).flatMap((i) => i.phrases);
    expect(others).toContain('what are your opening hours');
    // The same answer, except that "I didn't catch that" names what the line can do.
    const general = (turn: ReturnType<typeof nextTurn>) =>
      turn.kind === 'text' && turn.text === NOT_UNDERSTOOD_APPOINTMENTS
        ? { ...turn, text: NOT_UNDERSTOOD }
        : turn;
    for (const phrase of others)
      expect(
        general(nextTurn([user(phrase)], [...RECEPTIONIST_TOOLS, ...appointmentTools])),
      ).toEqual(nextTurn([user(phrase)], RECEPTIONIST_TOOLS));
  });

  it('greets when asked for a reply before the caller has said anything', () => {
    expect(nextTurn([{ role: 'system', content: 'Greet the user.' }], [])).toEqual({
      kind: 'text',
      text: OPENING,
    });
  });

  it("apologises after a tool of the agent's failed", () => {
    const failed = [
      user('book an appointment for tomorrow morning'),
      { role: 'assistant', tool_calls: [{ function: { name: 'book_appointment' } }] },
      { role: 'tool', content: TOOL_FAILURE_MESSAGE },
    ];
    expect(nextTurn(failed, ['book_appointment'])).toEqual({ kind: 'text', text: TOOL_FAILED });
  });

  it('keeps every phrase distinct: none contains the phrase of another intent', () => {
    for (const intent of INTENTS)
      for (const phrase of intent.phrases)
        for (const other of INTENTS)
          if (other !== intent)
            for (const otherPhrase of other.phrases) expect(phrase).not.toContain(otherPhrase);
  });

  it.each([
    ['hello', 'human'],
    ['hello who is this', 'human'],
    ['you have reached our voicemail please leave a message after the tone', 'machine-vm'],
    ['hello you have reached our voicemail', 'machine-vm'],
    ['nobody is available to take your call', 'machine-vm'],
    ['the person you are calling is not available', 'machine-unavailable'],
    ['what are your opening hours', 'uncertain'],
    ['', 'uncertain'],
  ])('classifies the greeting %j as %s for answering-machine detection', (said, label) => {
    const system = { role: 'system', content: 'Task: Classify the call greeting transcript' };
    expect(nextTurn([system, user(said)], ['save_prediction', 'postpone_termination'])).toEqual({
      kind: 'tool_call',
      name: 'save_prediction',
      arguments: JSON.stringify({ label }),
    });
  });
});
