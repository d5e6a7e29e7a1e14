/**
 * A streaming RFC 4180 record splitter working on bytes, the part of the
 * export reader that touches every byte, written for speed: one pass over
 * each record in a plain byte loop (no per-field native calls), only the
 * columns the caller wants become strings (so, for instance, the export's
 * `user_ip` is never even decoded), ASCII fields are decoded as latin1 (a
 * straight copy), and doubled quotes are undone only in fields that have
 * them, into a reused scratch buffer. Chunk boundaries may fall anywhere,
 * inside a multi-byte character included: a record is decoded only once it
 * is complete.
 *
 * Records end at an unquoted LF or CRLF; quoted fields may hold commas,
 * doubled quotes and line breaks. Physical line numbers are tracked (a
 * quoted line break counts) so that errors can name the line a record
 * starts on. A quote inside an unquoted field, or anything but a separator
 * after a closing quote, is a malformed record (CsvFault); the splitter then
 * resumes at the next line break, so the caller may skip the record and go on.
 */

/** A malformed record: the line it starts on, which field (0-based) and why. */
export class CsvFault extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly field: number,
    /** false when the input cannot be read further (an unterminated quote at the end, an endless record). */
    readonly recoverable: boolean,
  ) {
    super(message);
    this.name = 'CsvFault';
  }
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

export class CsvSplitter {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private scratch = Buffer.allocUnsafe(64 * 1024);
  /** Physical line (1-based) at the next record. */
  line = 1;
  /** Line the last record returned (or faulted) started on. */
  recordLine = 1;
  /** Field count of the last record. */
  fieldCount = 0;

  constructor(private readonly maxRecordBytes = 64 * 1024 * 1024) {}

  /** Two reused buffers the unfinished record and the next chunk are joined in (alternately: the tail may sit in one). */
  private carry: [Buffer, Buffer] = [EMPTY, EMPTY];
  private flip = 0;

  /**
   * Adds bytes; records already returned are dropped from the buffer. The
   * join of an unfinished record with the next chunk is copied into a
   * reused buffer rather than a fresh one each time: a fresh megabyte per
   * chunk costs more in page faults than the copy itself.
   */
  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length) this.buf = chunk;
    else {
      const tail = this.buf.length - this.pos;
      const need = tail + chunk.length;
      this.flip ^= 1;
      let into = this.carry[this.flip];
      if (into.length < need) into = this.carry[this.flip] = Buffer.allocUnsafeSlow(Math.max(need, 2 * into.length));
      this.buf.copy(into, 0, this.pos);
      chunk.copy(into, tail);
      this.buf = into.subarray(0, need);
    }
    this.pos = 0;
  }

  /**
   * The next complete record into `out` (wanted fields only, others left
   * untouched); false when more input is needed (or, with eof, when there
   * is none). Throws CsvFault for a malformed record, positioned after it.
   */
  next(out: (string | undefined)[], want: readonly boolean[] | null, eof: boolean): boolean {
    const b = this.buf;
    const n = b.length;
    const start = this.pos;
    if (start >= n) return false;
    let i = start;
    let col = 0;
    let lines = 0;
    this.recordLine = this.line;
    for (;;) {
      if (i < n && b[i] === QUOTE) {
        const s = i + 1;
        let j = s;
        let escaped = false;
        let high = false;
        const keep = want === null || want[col];
        for (;;) {
          if (keep) {
            for (; j < n; j++) {
              const c = b[j];
              if (c === QUOTE) break;
              if (c === LF) lines++;
              else if (c > 127) high = true;
            }
          } else {
            // A field nobody reads (metadata, subject_data): only quotes and line breaks matter.
            for (; j < n; j++) {
              const c = b[j];
              if (c === QUOTE) break;
              if (c === LF) lines++;
            }
          }
          if (j >= n) return this.incomplete(start, eof, col, 'unterminated quoted field');
          if (j + 1 < n && b[j + 1] === QUOTE) {
            escaped = true;
            j += 2;
            continue;
          }
          if (j + 1 >= n && !eof) return this.incomplete(start, eof, col, '');
          break;
        }
        if (keep) out[col] = escaped ? this.unescape(s, j, high) : b.toString(high ? 'utf8' : 'latin1', s, j);
        i = j + 1;
        const c = i < n ? b[i] : -1;
        if (c === COMMA) {
          col++;
          i++;
          continue;
        }
        if (c === -1) return this.finish(n, col, lines); // eof is true here
        if (c === LF) return this.finish(i + 1, col, lines);
        if (c === CR && i + 1 < n && b[i + 1] === LF) return this.finish(i + 2, col, lines);
        if (c === CR && i + 1 >= n && !eof) return this.incomplete(start, eof, col, '');
        return this.fault(start, i, col, eof, `unexpected character ${JSON.stringify(String.fromCharCode(c))} after a closing quote`);
      }
      let j = i;
      let high = false;
      for (; j < n; j++) {
        const c = b[j];
        if (c === COMMA || c === LF) break;
        if (c === QUOTE) return this.fault(start, j, col, eof, 'quote inside an unquoted field');
        if (c > 127) high = true;
      }
      if (j >= n && !eof) return this.incomplete(start, eof, col, '');
      if (want === null || want[col]) {
        const e = j > i && (j >= n || b[j] === LF) && b[j - 1] === CR ? j - 1 : j;
        out[col] = b.toString(high ? 'utf8' : 'latin1', i, e);
      }
      if (j < n && b[j] === COMMA) {
        col++;
        i = j + 1;
        continue;
      }
      return this.finish(j >= n ? n : j + 1, col, lines);
    }
  }

  /** The field's text with each doubled quote made single. */
  private unescape(s: number, e: number, high: boolean): string {
    if (this.scratch.length < e - s) this.scratch = Buffer.allocUnsafe(2 * (e - s));
    const b = this.buf;
    const t = this.scratch;
    let len = 0;
    for (let k = s; k < e; k++) {
      const c = b[k];
      t[len++] = c;
      if (c === QUOTE) k++;
    }
    return t.toString(high ? 'utf8' : 'latin1', 0, len);
  }

  private finish(end: number, lastCol: number, lines: number): boolean {
    this.pos = end;
    this.line += 1 + lines;
    this.fieldCount = lastCol + 1;
    return true;
  }

  private incomplete(start: number, eof: boolean, col: number, why: string): boolean {
    if (eof && why) {
      this.pos = this.buf.length;
      throw new CsvFault(`${why} (the input ends inside it)`, this.recordLine, col, false);
    }
    if (this.buf.length - start > this.maxRecordBytes) throw new CsvFault(`record longer than ${this.maxRecordBytes} bytes`, this.recordLine, col, false);
    return false;
  }

  private fault(start: number, at: number, col: number, eof: boolean, why: string): boolean {
    // Resume after the next line break so the caller can skip this record; wait for it if it has not arrived.
    const nl = this.buf.indexOf(LF, at);
    if (nl === -1 && !eof) return this.incomplete(start, eof, col, '');
    const end = nl === -1 ? this.buf.length : nl + 1;
    let lines = 1;
    for (let k = start; k < end - 1; k++) if (this.buf[k] === LF) lines++;
    this.pos = end;
    this.line += lines;
    throw new CsvFault(why, this.recordLine, col, true);
  }
}
