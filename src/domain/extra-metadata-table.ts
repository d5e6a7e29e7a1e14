import { ValidationError } from './errors.js';
import { parseExtraMetadata, type SubjectMetadata } from './subject-metadata.js';

/**
 * A PI's table of per-object columns, as they keep it next to their notebook:
 *
 *   object,ml_score,#priority,survey_note
 *   5f0c...-bridge-image-id,0.93,5,
 *   1a2b3c:12,0.41,,"faint, check"
 *   7,0.12,1,
 *
 * The `object` column holds the keys of ExtraMetadata.objects (a bridge image
 * id, `<dataset id>:<stamp index>`, or a stamp index); every other column is
 * a Zooniverse metadata key. An empty cell leaves the key off that subject.
 * Numbers are stored as numbers (so `#priority` sorts), everything else as
 * text; leading zeros keep a value text ("007" is an identifier, not 7), and so
 * does an integer too large for a double (64-bit object ids).
 * Column names and values are checked again by parseExtraMetadata.
 */
export function parseExtraMetadataTable(text: string, limits: TableLimits = TABLE_LIMITS): Record<string, SubjectMetadata> {
  const reader = tableReader(text, limits, false);
  for (const cells of reader.rows) reader.add(cells);
  return reader.objects;
}

/** How large a table may be: larger ones are refused with the limit named, before they cost anything. */
export interface TableLimits {
  bytes: number;
  rows: number;
}

export const TABLE_LIMITS: TableLimits = { bytes: 2 * 1024 * 1024, rows: 20_000 };

/**
 * The same table read in slices of a few hundred rows, giving the event loop
 * back between slices: a 2 MB table takes a few hundred milliseconds to
 * read and check, and the API must go on answering meanwhile. Every row is
 * checked as parseExtraMetadata checks it, so the result is stored as it is.
 */
export async function readExtraMetadataTable(text: string, limits: TableLimits = TABLE_LIMITS): Promise<Record<string, SubjectMetadata>> {
  const reader = tableReader(text, limits, true);
  let n = 0;
  for (const cells of reader.rows) {
    reader.add(cells);
    if (++n % 250 === 0) await new Promise((r) => setImmediate(r));
  }
  return reader.objects;
}

/** `check`: also apply the metadata rules to each row (names, values), naming the object. */
function tableReader(text: string, limits: TableLimits, check: boolean) {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.bytes) throw tableError(`${bytes} bytes is over the limit of ${limits.bytes} bytes; split the table or drop columns volunteers do not need`);
  const rows = csvRows(text.replace(/^\uFEFF/, ''));
  const first = rows.next();
  const header = first.done ? undefined : first.value;
  if (!header || (header.length === 1 && header[0].trim() === '')) throw tableError('the table is empty: the first line must be the header, starting with "object"');
  const names = header.map((h) => h.trim());
  if (names[0].toLowerCase() !== 'object') throw tableError(`line 1: the first column must be "object" (the image id, <dataset id>:<stamp index>, or stamp index), not "${names[0].slice(0, 60)}"`);
  if (names.length < 2) throw tableError('line 1: the table has no metadata columns after "object"');
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (!n) throw tableError(`line 1: column ${i + 1} has no name`);
    if (seen.has(n)) throw tableError(`line 1: column "${n}" appears twice`);
    seen.add(n);
  });
  const objects: Record<string, SubjectMetadata> = {};
  const lineOf = new Map<string, number>();
  let line = 1;
  return {
    rows,
    objects,
    add(cells: string[]) {
      line++;
      if (cells.length === 1 && cells[0] === '') return;
      if (lineOf.size >= limits.rows) throw tableError(`line ${line}: more than ${limits.rows} rows; split the table`);
      if (cells.length !== names.length) throw tableError(`line ${line}: ${cells.length} values for ${names.length} columns`);
      const key = cells[0].trim();
      if (!key) throw tableError(`line ${line}: the object column is empty`);
      if (lineOf.has(key)) throw tableError(`line ${line}: object "${key.slice(0, 80)}" already has a row on line ${lineOf.get(key)}`);
      lineOf.set(key, line);
      const row: SubjectMetadata = {};
      for (let c = 1; c < names.length; c++) {
        const v = cells[c];
        if (v.trim() === '') continue;
        row[names[c]] = asNumber(v.trim()) ?? v;
      }
      objects[key] = check ? parseExtraMetadata({ objects: { [key]: row } }).objects[key] : row;
    },
  };
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * A cell as a number, when it is one a double holds exactly: a 64-bit
 * object id (diaObjectId 1567428592185376787) stays text, or it would be
 * stored as a different id.
 */
function asNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  if (/^-?\d+$/.test(text) && !Number.isSafeInteger(n)) return undefined;
  return n;
}

function tableError(message: string): ValidationError {
  return new ValidationError(`extra-metadata table: ${message}`, { field: 'extra_metadata' });
}

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks; CRLF or LF line ends. */
export function parseCsv(text: string): string[][] {
  return [...csvRows(text)];
}

/** The rows of a CSV text one at a time, so a large table can be read in slices. */
export function* csvRows(text: string): Generator<string[]> {
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let line = 1;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') throw tableError(`line ${line}: text after a closing quote`);
        continue;
      }
      if (ch === '\n') line++;
      field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (field !== '') throw tableError(`line ${line}: a quote inside an unquoted value (quote the whole value and double the quote)`);
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' || ch === '\n') {
      row.push(field);
      yield row;
      row = [];
      field = '';
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw tableError(`line ${line}: a quoted value is never closed`);
  if (field !== '' || row.length) {
    row.push(field);
    yield row;
  }
}
