/**
 * The Panoptes classification export (CSV) as a stream of RawClassification.
 *
 * Columns are found by header name, so their order and any extra columns do
 * not matter; classification_id, workflow_id, annotations and subject_ids
 * are required. `user_ip` is never read into memory, let alone stored.
 * JSON columns (metadata, annotations, subject_data) are parsed; subject_ids
 * is split on ';'; created_at's 'YYYY-MM-DD HH:MM:SS UTC' becomes ISO
 * 'YYYY-MM-DDTHH:MM:SSZ'; gold_standard and expert are true when the
 * export says "true" (expert: any non-empty value but "false").
 *
 * Streaming, constant memory: the input is consumed chunk by chunk and only
 * the unfinished record is buffered (up to `maxRecordBytes`). Gunzipping is
 * the caller's: pipe the download through node:zlib's createGunzip(); an
 * input that fails (a truncated gzip, a dropped connection) surfaces as an
 * ExportReadError naming the last complete line.
 *
 * Malformed rows: an ExportRowError names the physical line the record starts
 * on and the column. Without `onError` the reader throws it (a malformed
 * export is not silently reduced); with `onError` it reports the row there
 * and goes on with the next one, so a caller can count skips and decide. An
 * unterminated quote at the end of the input always throws.
 */
import { CsvFault, CsvSplitter } from './csv.js';
import type { RawClassification } from './types.js';

export class ExportRowError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: string | undefined,
  ) {
    super(`export line ${line}${column ? `, column ${column}` : ''}: ${message}`);
    this.name = 'ExportRowError';
  }
}

export class ExportReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExportReadError';
  }
}

export interface ExportReadOptions {
  /** Called for each malformed row, which is then skipped; without it the first one is thrown. */
  onError?: (error: ExportRowError) => void;
  /** Longest record accepted (bytes), default 64 MiB. */
  maxRecordBytes?: number;
  /**
   * JSON columns to parse (default both). Reduction needs neither metadata
   * (browser, viewport, timings: often the longest column) nor subject_data;
   * leaving them out skips their JSON.parse and the slice itself.
   */
  parse?: { metadata?: boolean; subjectData?: boolean };
}

const REQUIRED = ['classification_id', 'workflow_id', 'annotations', 'subject_ids'] as const;
const USED = ['classification_id', 'user_name', 'user_id', 'workflow_id', 'workflow_version', 'created_at', 'gold_standard', 'expert', 'metadata', 'annotations', 'subject_data', 'subject_ids'] as const;
type Used = (typeof USED)[number];

/** Reads the export one classification at a time. */
export async function* readClassificationExport(input: AsyncIterable<Buffer | string>, options: ExportReadOptions = {}): AsyncGenerator<RawClassification> {
  for await (const batch of readClassificationExportBatches(input, options)) yield* batch;
}

/**
 * The same, in batches (one per input chunk): a for-await step per batch
 * instead of per row, for callers that reduce millions of rows.
 */
export async function* readClassificationExportBatches(input: AsyncIterable<Buffer | string>, options: ExportReadOptions = {}): AsyncGenerator<RawClassification[]> {
  const csv = new CsvSplitter(options.maxRecordBytes);
  let columns: Record<Used, number> | undefined;
  let width = 0;
  let want: boolean[] = [];
  const fields: (string | undefined)[] = [];
  let headerNames: string[] = [];
  const nameOf = (i: number) => headerNames[i] ?? `#${i + 1}`;
  const fail = (e: ExportRowError) => {
    if (options.onError) options.onError(e);
    else throw e;
  };

  const drain = (eof: boolean): RawClassification[] => {
    const out: RawClassification[] = [];
    for (;;) {
      fields.length = 0;
      try {
        if (!csv.next(fields, columns ? want : null, eof)) return out;
      } catch (e) {
        if (!(e instanceof CsvFault)) throw e;
        const err = new ExportRowError(e.message, e.line, columns ? nameOf(e.field) : undefined);
        if (!e.recoverable || !columns) throw err;
        fail(err);
        continue;
      }
      if (!columns) {
        const names = fields.map((f, i) => (i === 0 ? (f ?? '').replace(/^\uFEFF/, '') : (f ?? '')).trim());
        const missing = REQUIRED.filter((r) => !names.includes(r));
        if (missing.length) throw new ExportRowError(`not a classification export: no ${missing.join(', ')} column`, csv.recordLine, undefined);
        columns = Object.fromEntries(USED.map((u) => [u, names.indexOf(u)])) as Record<Used, number>;
        width = names.length;
        const skip = new Set<string>();
        if (options.parse?.metadata === false) skip.add('metadata');
        if (options.parse?.subjectData === false) skip.add('subject_data');
        want = names.map((nm) => (USED as readonly string[]).includes(nm) && !skip.has(nm));
        headerNames = names;
        continue;
      }
      if (csv.fieldCount === 1 && (fields[0] ?? '') === '' && width > 1) continue; // a blank line
      if (csv.fieldCount !== width) {
        fail(new ExportRowError(`${csv.fieldCount} fields, the header has ${width}`, csv.recordLine, undefined));
        continue;
      }
      const row = toClassification(fields, columns, csv.recordLine);
      if (row instanceof ExportRowError) fail(row);
      else out.push(row);
    }
  };
  try {
    for await (const chunk of input) {
      csv.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      const rows = drain(false);
      if (rows.length) yield rows;
    }
  } catch (e) {
    if (e instanceof ExportRowError) throw e;
    throw new ExportReadError(`reading the export failed after line ${csv.line - 1}: ${(e as Error).message}`, { cause: e });
  }
  const rows = drain(true);
  if (rows.length) yield rows;
  if (!columns) throw new ExportReadError('the export is empty (no header line)');
}

function json(text: string | undefined, column: string, line: number): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    return new ExportRowError(`invalid JSON (${(e as Error).message})`, line, column);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** 'YYYY-MM-DD HH:MM:SS UTC' -> 'YYYY-MM-DDTHH:MM:SSZ'; anything else as given. */
function isoTime(s: string): string {
  return s.length === 23 && s.endsWith(' UTC') && s[10] === ' ' ? `${s.slice(0, 10)}T${s.slice(11, 19)}Z` : s;
}

/** subject_ids split on ';'. Nearly every row has one subject: that needs no split and no filter (two arrays fewer per row). */
function subjectIds(text: string): string[] {
  if (text.indexOf(';') === -1) return text === '' ? [] : [text];
  return text.split(';').filter((s) => s !== '');
}

function get(f: (string | undefined)[], c: Record<Used, number>, k: Used): string | undefined {
  return c[k] >= 0 ? f[c[k]] : undefined;
}

function toClassification(f: (string | undefined)[], c: Record<Used, number>, line: number): RawClassification | ExportRowError {
  const id = get(f, c, 'classification_id') ?? '';
  if (!/^\d+$/.test(id)) return new ExportRowError(`classification id ${JSON.stringify(id)} is not a number`, line, 'classification_id');
  const annotations = json(get(f, c, 'annotations'), 'annotations', line);
  if (annotations instanceof ExportRowError) return annotations;
  if (!Array.isArray(annotations)) return new ExportRowError('annotations is not a JSON list', line, 'annotations');
  const out: RawClassification = {
    id,
    workflowId: get(f, c, 'workflow_id') ?? '',
    userId: get(f, c, 'user_id') || null,
    userName: get(f, c, 'user_name') || null,
    createdAt: isoTime(get(f, c, 'created_at') ?? ''),
    subjectIds: subjectIds(get(f, c, 'subject_ids') ?? ''),
    annotations,
  };
  const version = get(f, c, 'workflow_version');
  if (version) out.workflowVersion = version;
  const metadata = json(get(f, c, 'metadata'), 'metadata', line);
  if (metadata instanceof ExportRowError) return metadata;
  if (metadata !== undefined) {
    if (!isObject(metadata)) return new ExportRowError('metadata is not a JSON object', line, 'metadata');
    out.metadata = metadata;
  }
  const subjectData = json(get(f, c, 'subject_data'), 'subject_data', line);
  if (subjectData instanceof ExportRowError) return subjectData;
  if (subjectData !== undefined) {
    if (!isObject(subjectData)) return new ExportRowError('subject_data is not a JSON object', line, 'subject_data');
    out.subjectData = subjectData as Record<string, Record<string, unknown>>;
  }
  const gold = get(f, c, 'gold_standard');
  if (gold) out.goldStandard = gold.toLowerCase() === 'true';
  const expert = get(f, c, 'expert');
  if (expert) out.expert = expert.toLowerCase() !== 'false';
  return out;
}
