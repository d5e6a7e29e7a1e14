import { ImagingError } from '../types.js';

export const BLOCK = 2880;
export const CARD = 80;

export type FitsValue = string | number | boolean | null | [number, number];

export interface Card {
  key: string;
  value: FitsValue;
  comment?: string;
  /** true for COMMENT/HISTORY/blank-keyword cards, which have no value. */
  commentary?: boolean;
  /** An integer value's digits as written: catalogue ids (64-bit) lose digits as a number. */
  digits?: string;
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$/;
const COMPLEX_RE = /^\(\s*([^,]+?)\s*,\s*([^)]+?)\s*\)$/;

/**
 * An ordered FITS header. Repeated keywords are kept in order (Stamps files
 * write one RA_DEG card per stamp), so `get` returns the first and `getAll`
 * every occurrence.
 */
export class Header {
  private readonly index = new Map<string, number[]>();

  constructor(readonly cards: readonly Card[]) {
    cards.forEach((c, i) => {
      const list = this.index.get(c.key);
      if (list) list.push(i);
      else this.index.set(c.key, [i]);
    });
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  get(key: string): FitsValue | undefined {
    const i = this.index.get(key);
    return i ? this.cards[i[0]].value : undefined;
  }

  getAll(key: string): FitsValue[] {
    return (this.index.get(key) ?? []).map((i) => this.cards[i].value);
  }

  /** Every card of `key`, for callers that need an integer's exact digits (Card.digits) beside its value. */
  cardsOf(key: string): Card[] {
    return (this.index.get(key) ?? []).map((i) => this.cards[i]);
  }

  number(key: string): number | undefined {
    const v = this.get(key);
    return typeof v === 'number' ? v : undefined;
  }

  string(key: string): string | undefined {
    const v = this.get(key);
    return typeof v === 'string' ? v : undefined;
  }

  bool(key: string): boolean | undefined {
    const v = this.get(key);
    return typeof v === 'boolean' ? v : undefined;
  }

  /** A required non-negative integer keyword; hostile files lie here first. */
  count(key: string, where: ConstructorParameters<typeof ImagingError>[1], max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw new ImagingError(`keyword ${key} must be an integer in 0..${max}, got ${JSON.stringify(v)}`, where);
    }
    return v;
  }
}

/** Parses header blocks up to and including END. Returns null if END is not in `bytes`. */
export function parseHeader(bytes: Uint8Array): { header: Header; length: number } | null {
  const cards: Card[] = [];
  const n = Math.floor(bytes.length / CARD);
  // Decoded once, each card a slice of it: building each card's string a
  // character at a time was most of the time spent indexing a Stamps file.
  const all = latin1(bytes, 0, n * CARD);
  for (let i = 0; i < n; i++) {
    const text = all.slice(i * CARD, (i + 1) * CARD);
    const key = text.slice(0, 8).trimEnd();
    if (key === 'END' && text.slice(8).trim() === '') {
      const used = (i + 1) * CARD;
      return { header: new Header(joinContinue(cards)), length: Math.ceil(used / BLOCK) * BLOCK };
    }
    cards.push(parseCard(text));
  }
  return null;
}

function latin1(bytes: Uint8Array, start: number, len: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, len).toString('latin1');
}

export function parseCard(text: string): Card {
  let key = text.slice(0, 8).trimEnd();
  let valueField: string | undefined;
  if (key === 'HIERARCH') {
    const eq = text.indexOf('=', 8);
    if (eq > 0) {
      key = text.slice(8, eq).trim();
      valueField = text.slice(eq + 1);
    } else {
      return { key: 'HIERARCH', value: text.slice(8).trimEnd(), commentary: true };
    }
  } else if (key === 'CONTINUE') {
    valueField = text.slice(8);
  } else if (text.slice(8, 10) === '= ') {
    valueField = text.slice(10);
  }
  if (valueField === undefined) {
    return { key, value: text.slice(8).trimEnd(), commentary: true };
  }
  const { value, comment, digits } = parseValue(valueField);
  const card: Card = comment === undefined ? { key, value } : { key, value, comment };
  if (digits !== undefined) card.digits = digits;
  return card;
}

function parseValue(field: string): { value: FitsValue; comment?: string; digits?: string } {
  let i = 0;
  while (i < field.length && field[i] === ' ') i++;
  if (field[i] === "'") {
    let s = '';
    let j = i + 1;
    for (; j < field.length; j++) {
      if (field[j] === "'") {
        if (field[j + 1] === "'") {
          s += "'";
          j++;
        } else break;
      } else s += field[j];
    }
    // Trailing blanks in a FITS string are not significant; leading ones are.
    return { value: s.trimEnd(), comment: commentAfter(field.slice(j + 1)) };
  }
  const slash = field.indexOf('/', i);
  const raw = (slash >= 0 ? field.slice(i, slash) : field.slice(i)).trim();
  const comment = slash >= 0 ? field.slice(slash + 1).trim() : undefined;
  const value = typedValue(raw);
  // Only integers a double cannot hold exactly keep their digits (object ids); others stay as they were.
  return typeof value === 'number' && INT_RE.test(raw) && !Number.isSafeInteger(value) ? { value, comment, digits: raw.replace(/^\+/, '') } : { value, comment };
}

function commentAfter(rest: string): string | undefined {
  const slash = rest.indexOf('/');
  return slash >= 0 ? rest.slice(slash + 1).trim() : undefined;
}

function typedValue(raw: string): FitsValue {
  if (raw === '') return null;
  if (raw === 'T') return true;
  if (raw === 'F') return false;
  if (INT_RE.test(raw)) return Number(raw);
  if (FLOAT_RE.test(raw)) return Number(raw.replace(/[Dd]/, 'E'));
  const c = COMPLEX_RE.exec(raw);
  if (c) {
    const re = Number(c[1].replace(/[Dd]/, 'E'));
    const im = Number(c[2].replace(/[Dd]/, 'E'));
    if (Number.isFinite(re) && Number.isFinite(im)) return [re, im];
  }
  // Non-standard value (e.g. NaN written bare by some producers): keep the text.
  if (/^nan$/i.test(raw)) return NaN;
  return raw;
}

/** Long-string convention: a string ending in '&' continues in CONTINUE cards. */
function joinContinue(cards: Card[]): Card[] {
  const out: Card[] = [];
  for (const c of cards) {
    const prev = out[out.length - 1];
    if (
      c.key === 'CONTINUE' &&
      prev &&
      !prev.commentary &&
      typeof prev.value === 'string' &&
      prev.value.endsWith('&') &&
      typeof c.value === 'string'
    ) {
      prev.value = prev.value.slice(0, -1) + c.value;
      if (c.comment) prev.comment = prev.comment ? prev.comment + ' ' + c.comment : c.comment;
      continue;
    }
    out.push({ ...c });
  }
  return out;
}

/** Formats one card (used to write the WCS header that travels in AVM). */
export function formatCard(key: string, value: FitsValue, comment?: string): string {
  let v: string;
  if (typeof value === 'string') v = `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
  else if (typeof value === 'boolean') v = (value ? 'T' : 'F').padStart(20);
  else if (typeof value === 'number') v = formatNumber(value).padStart(20);
  else if (value === null) v = ''.padStart(20);
  else v = `(${formatNumber(value[0])}, ${formatNumber(value[1])})`.padStart(20);
  const head = key.length > 8 ? `HIERARCH ${key} = ` : `${key.padEnd(8)}= `;
  let card = head + v + (comment ? ` / ${comment}` : '');
  if (card.length > CARD) card = card.slice(0, CARD);
  return card.padEnd(CARD);
}

function formatNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  // 17 significant digits round-trip any double exactly.
  let s = x.toPrecision(17);
  if (!/[.eE]/.test(s)) s += '.0';
  return s.toUpperCase();
}
