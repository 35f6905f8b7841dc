/**
 * Loaded with `--import` before the agents framework in every process the worker forks
 * (src/worker/spare-process-hold.ts): a job process forked while a call is being set up waits
 * here, before it loads anything, so the call's set-up has the CPU. Top-level await holds the
 * process's entry module until the wait is over. The hold comes in this module's own URL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spareProcessWaitMs } from './spare-process-hold.js';

const waitMs = spareProcessWaitMs(process.argv, import.meta.url);
if (waitMs > 0) await sleep(waitMs);
