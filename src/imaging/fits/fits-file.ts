import { BLOCK, CARD, Header, parseHeader } from './header.js';
import { BufferSource, FileSource, type ByteSource } from './byte-source.js';
import { ImagingError } from '../types.js';

/** Headers longer than this are refused rather than read forever (a real one is a few blocks). */
const MAX_HEADER_BLOCKS = 2000;
/** A file with more HDUs than this is refused before we index it. */
const MAX_HDUS = 200_000;

export interface Hdu {
  /** 0-based position in the file (astropy's HDUList index). */
  index: number;
  header: Header;
  /** 'PRIMARY', 'IMAGE', 'BINTABLE', 'TABLE', ... */
  kind: string;
  extname?: string;
  extver: number;
  /** true for a tile-compressed image stored as a BINTABLE (ZIMAGE = T). */
  compressed: boolean;
  headerOffset: number;
  dataOffset: number;
  /** Data bytes declared by the header, before padding to a block. */
  dataBytes: number;
  /**
   * The file ends inside this HDU's data (it is then the last HDU). It is
   * listed, as astropy lists it, but reading its data fails.
   */
  truncated?: true;
}

/**
 * A FITS file opened for random access. Opening reads only the headers, each
 * HDU's data is skipped by its declared size (checked against the file size),
 * so a single stamp of a large file can be read without touching the others.
 *
 * What follows the last complete HDU is treated as astropy treats it, with a
 * warning instead of a refusal where astropy reads the file: bytes that do
 * not start a header are ignored; an extension header cut short (no END card)
 * is ignored unless the file ends on a block boundary (astropy: "Header
 * missing END card", refused); a complete extension header whose data the
 * file cuts short is listed as a truncated HDU whose data cannot be read
 * (a primary HDU cut short is refused: nothing after it could be read).
 */
export class FitsFile {
  private readonly scratch: Uint8Array[] = [];

  private constructor(
    readonly source: ByteSource,
    readonly hdus: Hdu[],
    /** What was tolerated while indexing (trailing bytes, a truncated last HDU). */
    readonly warnings: string[] = [],
  ) {}

  get name(): string {
    return this.source.name;
  }

  static async openPath(path: string): Promise<FitsFile> {
    const src = await FileSource.open(path);
    try {
      return await FitsFile.open(src);
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  static async fromBytes(bytes: Uint8Array, name = '<buffer>'): Promise<FitsFile> {
    return FitsFile.open(new BufferSource(bytes, name));
  }

  static async open(source: ByteSource): Promise<FitsFile> {
    const hdus: Hdu[] = [];
    const warnings: string[] = [];
    let offset = 0;
    while (offset < source.size) {
      if (hdus.length >= MAX_HDUS) {
        throw new ImagingError(`more than ${MAX_HDUS} HDUs; refusing to index`, { file: source.name });
      }
      const index = hdus.length;
      const where = { file: source.name, hdu: index };
      const rest = source.size - offset;
      // The header's first block: enough to tell a header from trailing bytes, and most headers are one block.
      const first = await source.read(offset, Math.min(BLOCK, rest));
      if (index > 0 && !looksLikeHeader(first)) {
        const what = (await isPadding(source, offset)) ? 'padding' : 'not a FITS header';
        warnings.push(`ignored ${rest} trailing bytes after the last HDU (${what})`);
        break;
      }
      const parsed = await readHeaderAt(source, offset, first, where);
      // astropy reads headers in whole blocks: an END card in a block the file cuts short does not count.
      if (index > 0 && (!parsed || parsed.length > rest) && rest % BLOCK !== 0) {
        warnings.push(`ignored ${rest} trailing bytes after the last HDU (the start of an extension header, cut short: file truncated?)`);
        break;
      }
      if (!parsed) throw new ImagingError('header is truncated or has no END card', where);
      const { header, length } = parsed;
      const hdu = describe(header, index, offset, offset + length, where);
      const padded = Math.ceil(hdu.dataBytes / BLOCK) * BLOCK;
      if (hdu.dataOffset + hdu.dataBytes > source.size) {
        // A cut primary leaves nothing readable: refused whole, as before.
        if (index === 0) throw new ImagingError(`header ${truncation(hdu, source.size)}`, where);
        // A cut extension is listed, as astropy lists it; its data is refused when read (before anything is allocated for it).
        hdus.push({ ...hdu, truncated: true });
        warnings.push(`HDU ${index} is truncated: its header ${truncation(hdu, source.size)}`);
        break;
      }
      hdus.push(hdu);
      offset = hdu.dataOffset + padded;
    }
    if (hdus.length === 0) throw new ImagingError('empty file, not FITS', { file: source.name });
    return new FitsFile(source, hdus, warnings);
  }

  /** Finds an HDU by EXTNAME (case-insensitive, as FITS says) and EXTVER (default 1). */
  find(extname: string, extver = 1): Hdu | undefined {
    const want = extname.toUpperCase();
    return this.hdus.find((h) => h.extname?.toUpperCase() === want && h.extver === extver);
  }

  /**
   * Reads an HDU's data into a reused scratch buffer and hands it to `use`,
   * which must finish with it synchronously. Converting a large stamp set
   * otherwise allocates (and leaves to the GC) a raw copy of every HDU, which
   * was most of the conversion's peak memory.
   */
  async withData<T>(hdu: Hdu, use: (bytes: Uint8Array) => T): Promise<T> {
    this.checkPresent(hdu);
    if (!this.source.readInto) return use(await this.readData(hdu));
    let scratch = this.scratch.pop();
    if (!scratch || scratch.length < hdu.dataBytes) scratch = new Uint8Array(Math.max(hdu.dataBytes, scratch?.length ?? 0));
    try {
      const bytes = scratch.subarray(0, hdu.dataBytes);
      await this.readDataInto(hdu, bytes);
      return use(bytes);
    } finally {
      // Keep at most two (two stamps may be in flight); drop very large ones.
      if (this.scratch.length < 2 && scratch.length <= 64 * 1024 * 1024) this.scratch.push(scratch);
    }
  }

  /**
   * Reads the HDU's data straight into `into` (exactly dataBytes long), where
   * the source can: the caller's own array, so no scratch copy is made or
   * kept. Answers false when the source cannot read into a buffer.
   */
  async readDataInto(hdu: Hdu, into: Uint8Array): Promise<boolean> {
    this.checkPresent(hdu);
    if (!this.source.readInto) return false;
    if (into.length !== hdu.dataBytes) throw new Error(`readDataInto: ${into.length} bytes given for ${hdu.dataBytes}`);
    const bytes = await this.source.readInto(hdu.dataOffset, hdu.dataBytes, into);
    if (bytes.length !== hdu.dataBytes) throw new ImagingError('data is truncated', { file: this.name, hdu: hdu.index });
    return true;
  }

  async readData(hdu: Hdu): Promise<Uint8Array> {
    this.checkPresent(hdu);
    const bytes = await this.source.read(hdu.dataOffset, hdu.dataBytes);
    if (bytes.length !== hdu.dataBytes) {
      throw new ImagingError('data is truncated', { file: this.name, hdu: hdu.index });
    }
    return bytes;
  }

  close(): Promise<void> {
    return this.source.close();
  }

  /** A truncated HDU's header may claim any size: refused before a buffer of that size is made. */
  private checkPresent(hdu: Hdu): void {
    if (hdu.truncated || hdu.dataOffset + hdu.dataBytes > this.source.size) {
      throw new ImagingError(`data is truncated: its header ${truncation(hdu, this.source.size)}`, { file: this.name, hdu: hdu.index });
    }
  }
}

function truncation(hdu: Hdu, size: number): string {
  return `declares ${hdu.dataBytes} data bytes but only ${Math.max(0, size - hdu.dataOffset)} are present (file truncated?)`;
}

/**
 * Reads one header, a block at a time, and nothing past the block holding
 * END: the data after it (a MASK or VARIANCE the caller skips, say) is never
 * read. `first` is the header's first block, already read.
 */
async function readHeaderAt(
  source: ByteSource,
  offset: number,
  first: Uint8Array,
  where: { file: string; hdu: number },
): Promise<{ header: Header; length: number } | null> {
  if (first.length === 0) return null;
  if (!looksLikeHeader(first)) throw new ImagingError('not a FITS header (first card must be SIMPLE or XTENSION)', where);
  let buf = first;
  let more = first;
  for (let blocks = 1; ; blocks++) {
    // Only a block with an END keyword can end the header; parse then, once.
    if (hasEndKey(more)) {
      const parsed = parseHeader(buf);
      if (parsed) return parsed;
    }
    if (more.length < BLOCK) return null;
    if (blocks >= MAX_HEADER_BLOCKS) throw new ImagingError(`header longer than ${MAX_HEADER_BLOCKS} blocks`, where);
    more = await source.read(offset + buf.length, BLOCK);
    if (more.length === 0) return null;
    const next = new Uint8Array(buf.length + more.length);
    next.set(buf);
    next.set(more, buf.length);
    buf = next;
  }
}

const END_KEY = [0x45, 0x4e, 0x44, 0x20, 0x20, 0x20, 0x20, 0x20]; // "END     "

/** Whether some card of `block` starts with the keyword END (parseHeader checks the rest of the card). */
function hasEndKey(block: Uint8Array): boolean {
  for (let c = 0; c + 8 <= block.length; c += CARD) {
    let k = 0;
    while (k < 8 && block[c + k] === END_KEY[k]) k++;
    if (k === 8) return true;
  }
  return false;
}

function looksLikeHeader(buf: Uint8Array): boolean {
  const head = String.fromCharCode(...buf.subarray(0, 8));
  return head === 'SIMPLE  ' || head === 'XTENSION';
}

/** Zeros or blanks up to the end of the file (read a bounded piece at a time). */
async function isPadding(source: ByteSource, offset: number): Promise<boolean> {
  for (let at = offset; at < source.size; at += 64 * BLOCK) {
    const piece = await source.read(at, Math.min(source.size - at, 64 * BLOCK));
    if (!piece.every((b) => b === 0 || b === 0x20)) return false;
  }
  return true;
}

function describe(header: Header, index: number, headerOffset: number, dataOffset: number, where: { file: string; hdu: number }): Hdu {
  const kind = index === 0 ? 'PRIMARY' : (header.string('XTENSION') ?? '').trim().toUpperCase();
  if (index === 0 && header.bool('SIMPLE') === undefined) {
    throw new ImagingError('primary header does not start with SIMPLE', where);
  }
  const bitpix = header.get('BITPIX');
  if (bitpix !== 8 && bitpix !== 16 && bitpix !== 32 && bitpix !== 64 && bitpix !== -32 && bitpix !== -64) {
    throw new ImagingError(`BITPIX must be one of 8, 16, 32, 64, -32, -64, got ${JSON.stringify(bitpix)}`, where);
  }
  const naxis = header.count('NAXIS', where, 999);
  let elements = naxis === 0 ? 0 : 1;
  for (let i = 1; i <= naxis; i++) {
    elements *= header.count(`NAXIS${i}`, where);
    if (!Number.isSafeInteger(elements)) throw new ImagingError('NAXISn product overflows', where);
  }
  const pcount = index === 0 ? 0 : header.count('PCOUNT', where);
  const gcount = index === 0 ? 1 : header.count('GCOUNT', where);
  const dataBytes = naxis === 0 ? 0 : (Math.abs(bitpix) / 8) * gcount * (pcount + elements);
  if (!Number.isSafeInteger(dataBytes)) throw new ImagingError('declared data size overflows', where);
  const extname = header.string('EXTNAME')?.trim();
  const extver = header.number('EXTVER') ?? 1;
  const compressed = kind === 'BINTABLE' && header.bool('ZIMAGE') === true;
  return { index, header, kind, extname, extver, compressed, headerOffset, dataOffset, dataBytes };
}
