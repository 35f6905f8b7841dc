/**
 * The scripted dialog: a deterministic stand-in for an LLM on machines that cannot reach one. It
 * is not AI. It knows a few intents, each with the phrases that trigger it (the recognizer's
 * grammar is built from the same phrases), answers with fixed text, and calls the agent's tools
 * on keywords.
 *
 * Phrases by agent (the recognizer's grammar holds all of them, so a new phrase must be checked
 * against the others: test/e2e/offline-recognizer.test.ts does):
 *   receptionist   "what are your opening hours", "where are you located", "my account number",
 *                  "press one two three on the keypad", "i want to speak to a person", ...
 *   appointments   "when can i come in today" / "when can i come in tomorrow",
 *                  "book an appointment for this afternoon" / "... for tomorrow morning" /
 *                  "... for tomorrow afternoon"
 *   both           "goodbye" (end_call)
 *   callees        "hello", "hello who is this" (a person); "you have reached our voicemail", ...
 *                  (a machine): voice.AMD's classification (save_prediction) by keyword
 * An intent whose tool the agent does not offer is answered with NOT_UNDERSTOOD, so each agent
 * acts only on its own phrases.
 */
import { TOOL_FAILURE_MESSAGE } from '../../src/call/tool-guard.js';

export interface Intent {
  name: string;
  phrases: string[];
  reply: { text: string } | { tool: string; arguments?: string };
}

export const INTENTS: Intent[] = [
  {
    name: 'greeting',
    // Short, confusable phrases ("hi", "bye") are left out: the grammar would pick them for
    // longer ones it heard less clearly.
    phrases: ['hello', 'good morning', 'hello who is this'],
    reply: {
      text: 'Hello! You can ask me about our opening hours or where we are, or say goodbye to end the call.',
    },
  },
  {
    name: 'opening_hours',
    phrases: ['what are your opening hours', 'when are you open'],
    reply: {
      text: 'We are open Monday to Friday, from nine in the morning to five in the afternoon.',
    },
  },
  {
    name: 'location',
    phrases: ['where are you located', 'what is your address'],
    reply: { text: 'We are at one Main Street, next to the station.' },
  },
  {
    name: 'account_number',
    phrases: ['my account number', 'i want to give my account number'],
    reply: { tool: 'collect_account_number' },
  },
  {
    name: 'send_tones',
    phrases: ['press one two three on the keypad'],
    reply: { tool: 'send_dtmf_events', arguments: '{"events":["1","2","3"]}' },
  },
  {
    name: 'transfer_to_human',
    phrases: ['i want to speak to a person', 'connect me to an operator'],
    reply: {
      tool: 'transfer_to_human',
      arguments: '{"reason":"the caller asked to speak to a person"}',
    },
  },
  {
    name: 'transfer_call',
    phrases: ['please transfer my call to reception'],
    reply: { tool: 'transfer_call' },
  },
  // The consult leg of a warm transfer: the colleague's answer to the briefing.
  {
    name: 'accept_transfer',
    phrases: ['yes i will take the call', 'put them through'],
    reply: { tool: 'accept_transfer' },
  },
  {
    name: 'decline_transfer',
    phrases: ['no i cannot take the call'],
    reply: { tool: 'decline_transfer' },
  },
  {
    name: 'voicemail_detected',
    phrases: [
      'please leave a message after the tone',
      'you have reached our voicemail',
      'nobody is available to take your call',
    ],
    reply: { tool: 'voicemail_detected' },
  },
  {
    name: 'mailbox_unavailable',
    phrases: ['the person you are calling is not available'],
    reply: { tool: 'voicemail_detected' },
  },
  // The appointment line (agents/appointments.ts): free slots and bookings, by day and part of day.
  {
    name: 'free_slots_today',
    phrases: ['when can i come in today'],
    reply: { tool: 'find_free_slots', arguments: '{"day":"today"}' },
  },
  {
    name: 'free_slots_tomorrow',
    phrases: ['when can i come in tomorrow'],
    reply: { tool: 'find_free_slots', arguments: '{"day":"tomorrow"}' },
  },
  {
    name: 'book_today_afternoon',
    phrases: ['book an appointment for this afternoon'],
    reply: { tool: 'book_appointment', arguments: '{"day":"today","time":"afternoon"}' },
  },
  {
    name: 'book_tomorrow_morning',
    phrases: ['book an appointment for tomorrow morning'],
    reply: { tool: 'book_appointment', arguments: '{"day":"tomorrow","time":"morning"}' },
  },
  {
    name: 'book_tomorrow_afternoon',
    phrases: ['book an appointment for tomorrow afternoon'],
    reply: { tool: 'book_appointment', arguments: '{"day":"tomorrow","time":"afternoon"}' },
  },
  {
    name: 'goodbye',
    phrases: ['goodbye', 'thank you goodbye'],
    reply: { tool: 'end_call' },
  },
];

const SILENT_AFTER = new Set([
  'transfer_to_human',
  'transfer_call',
  'accept_transfer',
  'decline_transfer',
  'voicemail_detected',
]);

export const NOT_UNDERSTOOD =
  "Sorry, I didn't catch that. You can ask about our opening hours or where we are, or say goodbye.";
/** The same, on a line whose agent books appointments (it offers their tools). */
export const NOT_UNDERSTOOD_APPOINTMENTS =
  "Sorry, I didn't catch that. You can ask when you can come in, or book an appointment.";
/** A reply asked for before the caller has said anything (a greeting by generateReply). */
export const OPENING = 'Hello! How can I help you today?';
/** After a tool of the agent's failed (the package tells the model so, see src/call/tool-guard.ts). */
export const TOOL_FAILED =
  "I'm sorry, something went wrong on my side. Is there anything else I can help you with?";
export const GOODBYE = 'Goodbye, and thank you for calling.';

/** Every phrase the recognizer may return, lower-case, without punctuation. */
export function grammarPhrases(): string[] {
  return INTENTS.flatMap((i) => i.phrases);
}

export function jsgfGrammar(): string {
  return `#JSGF V1.0;\ngrammar switchboard;\npublic <utterance> = ${grammarPhrases().join(' | ')};\n`;
}

/** The reply after collect_account_number ran: read back the digits, or the spoken alternative. */
function accountNumberReply(output: string): string {
  let result: { digits?: string; error?: string } = {};
  try {
    result = JSON.parse(output) as typeof result;
  } catch {
    // a malformed result is treated like no digits
  }
  if (result.digits !== undefined)
    return `Thank you. I have your account number: ${result.digits.split('').join(' ')}.`;
  if (result.error === 'no_keypad') return 'Please say your account number instead.';
  return 'Sorry, I did not receive your account number.';
}

function parseObject(output: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(output);
    if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
  } catch {
    // a malformed result is treated like an empty one
  }
  return {};
}

/** "today" and "tomorrow" as spoken; anything else (a malformed result) as no day at all. */
function spokenDay(day: unknown): string | undefined {
  return day === 'today' || day === 'tomorrow' ? day : undefined;
}

/** "a", "a and b", "a, b and c". */
function spokenList(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The reply after find_free_slots ran: the free times of the day, in words. */
function freeSlotsReply(output: string): string {
  const result = parseObject(output);
  const day = spokenDay(result.day);
  if (!Array.isArray(result.slots)) return 'Sorry, I could not look up the free times.';
  const slots = result.slots.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  const when = day === undefined ? '' : ` ${day}`;
  if (slots.length === 0) return `Sorry, there are no free times${when}.`;
  return `We have free times${when} at ${spokenList(slots.map((s) => s.trim()))}.`;
}

/** The reply after book_appointment ran: the booking and its reference spelled out, or why not. */
function bookingReply(output: string): string {
  const result = parseObject(output);
  if (result.booked !== true) {
    const reason =
      typeof result.reason === 'string'
        ? result.reason
            .replaceAll('_', ' ')
            .trim()
            .replace(/[.!]+$/, '')
        : '';
    return reason === ''
      ? 'Sorry, I could not book the appointment.'
      : `Sorry, I could not book the appointment: ${reason}.`;
  }
  const day = spokenDay(result.day);
  const time = result.time === 'morning' || result.time === 'afternoon' ? result.time : undefined;
  const when =
    day === undefined || time === undefined
      ? ''
      : ` for ${day === 'today' ? 'this' : 'tomorrow'} ${time}`;
  const reference = typeof result.reference === 'string' ? result.reference : '';
  // Character by character ("A B 1 2"), so the speech says letters and digits, not a word.
  const spelled = reference
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .split('')
    .join(' ');
  return spelled === ''
    ? `Your appointment is booked${when}.`
    : `Your appointment is booked${when}. Your reference is ${spelled}.`;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: { function?: { name?: string } }[];
}

export type DialogTurn =
  { kind: 'text'; text: string } | { kind: 'tool_call'; name: string; arguments: string };

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === 'object' && part !== null && 'text' in part
          ? String((part as { text: unknown }).text)
          : '',
      )
      .join(' ');
  }
  return '';
}

function normalize(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z ]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * voice.AMD's classification request (its `save_prediction` tool): the category by keyword, not
 * by understanding. A machine's phrase anywhere makes it a machine (a greeting often starts with
 * a name), a person's phrase a person, anything else `uncertain` (AMD then waits for more).
 */
const AMD_CATEGORY_BY_INTENT: Record<string, string> = {
  voicemail_detected: 'machine-vm',
  mailbox_unavailable: 'machine-unavailable',
  greeting: 'human',
};

function amdCategory(transcript: string): string {
  const heard = normalize(transcript);
  const matches = INTENTS.filter((i) => i.phrases.some((p) => heard.includes(p)));
  const machine = matches.find((i) => AMD_CATEGORY_BY_INTENT[i.name]?.startsWith('machine'));
  const intent = machine ?? matches.find((i) => AMD_CATEGORY_BY_INTENT[i.name] !== undefined);
  return intent === undefined ? 'uncertain' : (AMD_CATEGORY_BY_INTENT[intent.name] ?? 'uncertain');
}

/** Decides the next assistant turn from the conversation so far. */
export function nextTurn(messages: ChatMessage[], availableTools: string[]): DialogTurn {
  if (availableTools.includes('save_prediction')) {
    const greeting = [...messages].reverse().find((m) => m.role === 'user');
    return {
      kind: 'tool_call',
      name: 'save_prediction',
      arguments: JSON.stringify({ label: amdCategory(text(greeting?.content)) }),
    };
  }
  const last = messages.at(-1);
  // After a tool ran, the reply that goes with it.
  if (last?.role === 'tool' && text(last.content).startsWith(TOOL_FAILURE_MESSAGE))
    return { kind: 'text', text: TOOL_FAILED };
  if (last?.role === 'tool') {
    const call = [...messages]
      .reverse()
      .find((m) => m.role === 'assistant' && m.tool_calls !== undefined);
    const name = call?.tool_calls?.[0]?.function?.name;
    if (name === 'collect_account_number')
      return { kind: 'text', text: accountNumberReply(text(last.content)) };
    if (name === 'send_dtmf_events') {
      const refused = text(last.content).includes('no_phone_line');
      return {
        kind: 'text',
        text: refused ? 'I can only send tones on a phone line.' : 'I have sent the tones.',
      };
    }
    if (name === 'find_free_slots')
      return { kind: 'text', text: freeSlotsReply(text(last.content)) };
    if (name === 'book_appointment')
      return { kind: 'text', text: bookingReply(text(last.content)) };
    // The transfer tools speak their own outcome to the caller (or hand the call over), and the
    // consult tools end the briefing: nothing to add.
    if (name !== undefined && SILENT_AFTER.has(name)) return { kind: 'text', text: '' };
    return { kind: 'text', text: name === 'end_call' ? GOODBYE : 'Done.' };
  }
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  if (lastUser === undefined) return { kind: 'text', text: OPENING };
  const userText = normalize(text(lastUser.content));
  const notUnderstood = availableTools.some(
    (t) => t === 'book_appointment' || t === 'find_free_slots',
  )
    ? NOT_UNDERSTOOD_APPOINTMENTS
    : NOT_UNDERSTOOD;
  const intent = INTENTS.find((i) => i.phrases.some((p) => userText === p || userText.includes(p)));
  if (intent === undefined) return { kind: 'text', text: notUnderstood };
  if ('text' in intent.reply) return { kind: 'text', text: intent.reply.text };
  if (availableTools.includes(intent.reply.tool))
    return {
      kind: 'tool_call',
      name: intent.reply.tool,
      arguments: intent.reply.arguments ?? '{}',
    };
  return { kind: 'text', text: intent.name === 'goodbye' ? GOODBYE : notUnderstood };
}
