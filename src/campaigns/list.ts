import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { maskPhoneNumber } from '../caller/phone-number.js';
import { callOptionsIssues } from '../dispatch/call-options.js';
import { SwitchboardError } from '../errors/index.js';
import { isKnownTimeZone } from './calling-hours.js';
import { E164_HINT, parseE164 } from './e164.js';

/** One number to call and what the call is about. */
export interface CampaignRow {
  /**
   * Stable across runs of the campaign, the key of its durable state: the `id` column (field)
   * when the list has one, else the row's position among the data rows ("1", "2", ...).
   */
  id: string;
  /** Where the row starts in the file (1-based), for messages. */
  line: number;
  /** E.164. */
  number: string;
  /** IANA zone of the callee, for calling hours. Default: the campaign's. */
  timezone?: string;
  /** Outbound trunk by name. Default: the campaign's. */
  trunk?: string;
  /** Caller ID, E.164. Default: the campaign's, else the trunk's. */
  from?: string;
  /** Every other column (field): what the call is about, for the agent. */
  metadata: Readonly<Record<string, unknown>>;
  /** JSONL only: the call's options, as in a line's dispatch metadata. */
  callOptions?: Readonly<Record<string, unknown>>;
  /** Set on a later row with the same number as an earlier one: only the first is dialled. */
  duplicateOf?: string;
}

export interface CampaignList {
  file: string;
  /** sha256 of the file's bytes: a resumed campaign must be running the list it started with. */
  digest: string;
  /** Every row carries its own `id` (rows keep their identity if the file is edited). */
  hasIds: boolean;
  rows: readonly CampaignRow[];
}

/** One broken row: where, which field, what is wrong (never the number itself). */
export interface ListProblem {
  line: number;
  field?: string;
  message: string;
}

const RESERVED = ['id', 'number', 'timezone', 'trunk', 'from'] as const;
const JSONL_OBJECTS = ['metadata', 'callOptions'] as const;
const TRUNK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ID = /^[^\p{Cc}]{1,128}$/u;
/** Problems listed in the error; the rest are counted. */
const MAX_LISTED = 50;

export type ListFormat = 'csv' | 'jsonl';

/** The format by the file's extension: .csv, or .jsonl / .ndjson. */
export function listFormatOf(file: string): ListFormat | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

/** Reads and validates a whole list; throws `campaign_list_invalid` naming every broken row. */
export async function readCampaignList(file: string): Promise<CampaignList> {
  const format = listFormatOf(file);
  if (format === undefined)
    throw new SwitchboardError(
      'campaign_list_invalid',
      `Cannot tell the format of the campaign list ${file}: name it .csv (a header row with a "number" column) or .jsonl (one JSON object per line).`,
    );
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new SwitchboardError(
      'campaign_list_invalid',
      `Cannot read the campaign list ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check the path.`,
      { cause: err },
    );
  }
  return parseCampaignList(bytes.toString('utf8'), format, file, bytes);
}

/** As `readCampaignList`, from text already read. */
export function parseCampaignList(
  text: string,
  format: ListFormat,
  file: string,
  bytes: Buffer = Buffer.from(text, 'utf8'),
): CampaignList {
  const problems: ListProblem[] = [];
  const raws = format === 'csv' ? csvRecords(text, problems) : jsonlRecords(text, problems);
  const rows: CampaignRow[] = [];
  raws.forEach((raw, index) => {
    const row = validRow(raw, index + 1, problems);
    if (row !== undefined) rows.push(row);
  });
  const hasIds = raws.length > 0 && raws.every((r) => r.fields.id !== undefined);
  if (raws.length > 0 && !hasIds && raws.some((r) => r.fields.id !== undefined))
    problems.push({
      line: raws.find((r) => r.fields.id === undefined)?.line ?? 1,
      field: 'id',
      message: 'some rows have an id and this one does not: give every row an id, or none',
    });
  uniqueIds(rows, problems);
  if (raws.length === 0 && problems.length === 0)
    problems.push({ line: 1, message: 'the list has no rows to call' });
  if (problems.length > 0) throw listError(file, problems);
  markDuplicates(rows);
  return {
    file,
    digest: createHash('sha256').update(bytes).digest('hex'),
    hasIds,
    rows,
  };
}

interface RawRow {
  line: number;
  fields: Record<string, unknown>;
}

function csvRecords(text: string, problems: ListProblem[]): RawRow[] {
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      raw: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as typeof records;
  } catch (err) {
    // A quoting error leaves the rest of the file unreadable: one problem, at its line.
    const line = err instanceof CsvError ? Number((err as { lines?: unknown }).lines ?? 0) : 0;
    problems.push({ line, message: `not valid CSV: ${(err as Error).message}` });
    return [];
  }
  const [header, ...data] = records;
  if (header === undefined) return [];
  const columns = header.record.map((name) => {
    const reserved = RESERVED.find((r) => r === name.toLowerCase());
    return reserved ?? name;
  });
  const headerProblems: ListProblem[] = [];
  if (!columns.includes('number'))
    headerProblems.push({
      line: 1,
      field: 'number',
      message: `the header has no "number" column (it has ${header.record.map((c) => `"${c}"`).join(', ')}); the first row names the columns`,
    });
  columns.forEach((name, i) => {
    if (name === '')
      headerProblems.push({ line: 1, message: `column ${i + 1} has no name in the header row` });
    else if (columns.indexOf(name) !== i)
      headerProblems.push({ line: 1, field: name, message: 'the column appears twice' });
  });
  problems.push(...headerProblems);
  if (headerProblems.length > 0) return [];
  const rows: RawRow[] = [];
  for (const { record, info, raw } of data) {
    // info.lines is where the record ends; a quoted field may span lines, and `raw` starts with
    // the empty lines skipped before the record.
    const line =
      info.lines -
      (raw
        .replace(/^[\r\n]+/, '')
        .replace(/\r?\n$/, '')
        .match(/\n/g)?.length ?? 0);
    if (record.length !== columns.length) {
      problems.push({
        line,
        message: `has ${record.length} fields, the header has ${columns.length} (a missing or extra comma, or a field with a comma that needs "quotes")`,
      });
      continue;
    }
    const fields: Record<string, unknown> = {};
    columns.forEach((name, i) => {
      const value = record[i] ?? '';
      if (value !== '') fields[name] = value;
    });
    rows.push({ line, fields });
  }
  return rows;
}

function jsonlRecords(text: string, problems: ListProblem[]): RawRow[] {
  const rows: RawRow[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((content, index) => {
      const line = index + 1;
      if (content.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(content);
      } catch (err) {
        problems.push({ line, message: `not JSON (${(err as Error).message})` });
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push({
          line,
          message: 'not a JSON object; each line is one row, e.g. {"number": "+15550123"}',
        });
        return;
      }
      rows.push({ line, fields: value as Record<string, unknown> });
    });
  return rows;
}

function validRow(raw: RawRow, position: number, problems: ListProblem[]): CampaignRow | undefined {
  const { line, fields } = raw;
  const before = problems.length;
  const problem = (field: string, message: string) => problems.push({ line, field, message });
  const text = (field: string): string | undefined => {
    const value = fields[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
    if (field === 'id' && typeof value === 'number' && Number.isFinite(value)) return String(value);
    problem(field, `must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`);
    return undefined;
  };

  const id = text('id');
  if (id !== undefined && !ID.test(id))
    problem('id', 'at most 128 characters, without control characters');
  const rawNumber = text('number');
  const number = rawNumber === undefined ? undefined : parseE164(rawNumber);
  if (rawNumber === undefined) problem('number', 'missing: every row needs the number to call');
  else if (number === undefined)
    problem('number', `${maskPhoneNumber(rawNumber)} is not a phone number; ${E164_HINT}`);
  const timezone = text('timezone');
  if (timezone !== undefined && !isKnownTimeZone(timezone))
    problem(
      'timezone',
      `"${timezone}" is not an IANA time zone; use a name such as America/New_York or Asia/Tokyo`,
    );
  const trunk = text('trunk');
  if (trunk !== undefined && !TRUNK_NAME.test(trunk))
    problem('trunk', `"${trunk}" is not a trunk name (letters, digits, ".", "_", "-")`);
  const rawFrom = text('from');
  const from = rawFrom === undefined ? undefined : parseE164(rawFrom);
  if (rawFrom !== undefined && from === undefined)
    problem('from', `the caller ID is not a phone number; ${E164_HINT}`);

  const objects: Partial<Record<(typeof JSONL_OBJECTS)[number], Record<string, unknown>>> = {};
  for (const key of JSONL_OBJECTS) {
    const value = fields[key];
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      problem(key, 'must be a JSON object');
    else objects[key] = value as Record<string, unknown>;
  }
  if (problems.length > before || number === undefined) return undefined;

  const metadata: Record<string, unknown> = { ...objects.metadata };
  for (const [key, value] of Object.entries(fields))
    if (
      !(RESERVED as readonly string[]).includes(key) &&
      !(JSONL_OBJECTS as readonly string[]).includes(key)
    )
      metadata[key] = value;
  // Checked as the agent will see them: the columns as the call's context, and the number and
  // trunk the dialer fills in.
  const options = callOptionsOf({ metadata, callOptions: objects.callOptions }).callOptions ?? {};
  const outbound = options.outbound;
  const issues = callOptionsIssues({
    ...options,
    outbound: {
      ...(typeof outbound === 'object' && outbound !== null ? outbound : {}),
      to: number,
      trunk: trunk ?? 'campaign-trunk',
    },
  });
  for (const issue of issues) {
    const [first, ...rest] = issue.path;
    // A context problem is a column's (or metadata's) problem: named as the list names it.
    const where =
      first === 'context' && rest.length > 0
        ? rest.join('.')
        : ['callOptions', ...issue.path].join('.');
    problem(where, issue.message);
  }
  if (problems.length > before) return undefined;
  return {
    id: id ?? String(position),
    line,
    number,
    ...(timezone === undefined ? {} : { timezone }),
    ...(trunk === undefined ? {} : { trunk }),
    ...(from === undefined ? {} : { from }),
    metadata,
    ...(objects.callOptions === undefined ? {} : { callOptions: objects.callOptions }),
  };
}

function uniqueIds(rows: CampaignRow[], problems: ListProblem[]): void {
  const seen = new Map<string, number>();
  for (const row of rows) {
    const first = seen.get(row.id);
    if (first === undefined) seen.set(row.id, row.line);
    else
      problems.push({
        line: row.line,
        field: 'id',
        message: `"${row.id}" is also the id of line ${first}; ids name rows across runs and must be unique`,
      });
  }
}

/** A number listed twice is dialled once, for its first row; the others are reported. */
function markDuplicates(rows: CampaignRow[]): void {
  const first = new Map<string, string>();
  for (const row of rows) {
    const earlier = first.get(row.number);
    if (earlier === undefined) first.set(row.number, row.id);
    else row.duplicateOf = earlier;
  }
}

function listError(file: string, problems: ListProblem[]): SwitchboardError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const listed = sorted
    .slice(0, MAX_LISTED)
    .map((p) => `  line ${p.line}${p.field === undefined ? '' : `, ${p.field}`}: ${p.message}`);
  const more = sorted.length > MAX_LISTED ? [`  ... and ${sorted.length - MAX_LISTED} more`] : [];
  const rowsBroken = new Set(sorted.map((p) => p.line)).size;
  return new SwitchboardError(
    'campaign_list_invalid',
    `The campaign list ${basename(file)} has ${sorted.length} problem(s) in ${rowsBroken} line(s); nothing was dialled. Fix them and run again:\n${[...listed, ...more].join('\n')}`,
  );
}

/**
 * The row's call options, its other columns added as the call's `context` (what the agent's
 * instructions and tools read), text as given; a JSONL value that is not text, a number or a
 * boolean becomes its JSON.
 */
export function callOptionsOf(row: Pick<CampaignRow, 'metadata' | 'callOptions'>): {
  callOptions?: Record<string, unknown>;
} {
  const context: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(row.metadata)) {
    if (value === undefined || value === null || value === '') continue;
    context[key] =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? value
        : JSON.stringify(value);
  }
  const given = row.callOptions ?? {};
  if (Object.keys(context).length === 0)
    return row.callOptions === undefined ? {} : { callOptions: { ...given } };
  const givenContext =
    typeof given.context === 'object' && given.context !== null ? given.context : {};
  return { callOptions: { ...given, context: { ...context, ...givenContext } } };
}
