/**
 * The appointment line: offers free slots and books one. No transfers, no keypad.
 *
 *   npm run agent -- dev appointments
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import { callOf, defineCallAgent, runAgentWorker } from '../src/index.js';

/** A demo diary: a real line would ask its booking system. */
const FREE = { today: ['four thirty'], tomorrow: ['nine thirty', 'eleven', 'two fifteen'] };
const Day = z.enum(['today', 'tomorrow']);

const agent = defineCallAgent({
  name: 'appointments',
  instructions:
    'You book appointments at the clinic on a voice call. Keep answers short and spoken. Offer ' +
    'free slots with find_free_slots, book with book_appointment, and read the reference back.',
  greeting: 'Hello, this is the clinic appointment line. When would you like to come in?',
  tools: {
    find_free_slots: llm.tool({
      description: 'The free appointment times on a day.',
      parameters: z.object({ day: Day }),
      execute: async ({ day }) => ({ day, slots: FREE[day] }),
    }),
    book_appointment: llm.tool({
      description: 'Book an appointment; returns a reference to read back to the caller.',
      parameters: z.object({ day: Day, time: z.enum(['morning', 'afternoon']) }),
      execute: async ({ day, time }, { ctx }) => {
        const call = callOf(ctx);
        // A short reference a caller can note down, from the call's id.
        const reference = `A${call.id.replace(/[^A-Z0-9]/gi, '').slice(-3)}`.toUpperCase();
        call.annotate({
          appointmentDay: day,
          appointmentTime: time,
          appointmentReference: reference,
        });
        return { booked: true, day, time, reference };
      },
    }),
  },
  defaults: { maxCallDurationMs: 600_000 },
});

export default agent;
await runAgentWorker(agent, import.meta.url);
