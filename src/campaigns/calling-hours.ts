/**
 * Calling hours: a daily window of wall-clock time in the callee's time zone, e.g. 09:00-20:00.
 * Carriers' and regulators' rules are about the callee's local time, so the same instant can be
 * inside the window for a row in New York and outside it for one in Tokyo.
 */
export interface CallingWindow {
  /** Minutes after local midnight when calls may start. */
  startMinute: number;
  /** Minutes after local midnight when calls stop starting; below `startMinute`: past midnight. */
  endMinute: number;
  /** As given, for messages. */
  text: string;
}

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;

/** `HH:MM-HH:MM`; the end may be 24:00, and before the start for a window over midnight. */
export function parseCallingWindow(text: string): CallingWindow | string {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text.trim());
  if (match === null) return `"${text}" is not HH:MM-HH:MM (24-hour clock), e.g. 09:00-20:00`;
  const [startH, startM, endH, endM] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const minute = (h: number, m: number, isEnd: boolean) =>
    m < 60 && (h < 24 || (isEnd && h === 24 && m === 0)) ? h * 60 + m : undefined;
  const startMinute = minute(startH, startM, false);
  const endMinute = minute(endH, endM, true);
  if (startMinute === undefined || endMinute === undefined)
    return `"${text}" has a time that does not exist (hours 00-23, or 24:00 as the end; minutes 00-59)`;
  if (startMinute === endMinute)
    return `"${text}" never opens: the start and the end are the same time; give a window such as 09:00-20:00 (00:00-24:00 for all day)`;
  return { startMinute, endMinute: endMinute === 0 ? MINUTES_PER_DAY : endMinute, text };
}

/** Whether `timeZone` is an IANA zone this runtime knows (e.g. Europe/Paris, UTC). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds since local midnight in `timeZone` at the instant `atMs`. */
function localMsOfDay(timeZone: string, atMs: number): number {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  const part = (type: string) =>
    Number(format.formatToParts(atMs).find((p) => p.type === type)?.value ?? 0);
  return (
    ((part('hour') * 60 + part('minute')) * 60 + part('second')) * 1000 +
    (((atMs % 1000) + 1000) % 1000)
  );
}

/** Whether a call may start at `atMs` for a callee in `timeZone`. */
export function isWithinWindow(window: CallingWindow, timeZone: string, atMs: number): boolean {
  const minute = localMsOfDay(timeZone, atMs) / MS_PER_MINUTE;
  return window.startMinute < window.endMinute
    ? minute >= window.startMinute && minute < window.endMinute
    : minute >= window.startMinute || minute < window.endMinute;
}

/**
 * How long until the window next opens for a callee in `timeZone`; 0 while it is open. Worked out
 * from the local time of day, so on a day the clocks change it can be off by the shift: callers
 * check again when the wait is over (the runner does).
 */
export function msUntilWindowOpens(window: CallingWindow, timeZone: string, atMs: number): number {
  if (isWithinWindow(window, timeZone, atMs)) return 0;
  const dayMs = MINUTES_PER_DAY * MS_PER_MINUTE;
  const untilStart = window.startMinute * MS_PER_MINUTE - localMsOfDay(timeZone, atMs);
  // At least a minute: a wait of 0 outside the window would spin on a day the clocks change.
  return Math.max(MS_PER_MINUTE, ((untilStart % dayMs) + dayMs) % dayMs);
}
