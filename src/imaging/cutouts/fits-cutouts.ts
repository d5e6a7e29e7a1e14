import { FitsFile, type Hdu } from '../fits/fits-file.js';
import { readImage, DEFAULT_READ_LIMITS, type ReadLimits } from '../fits/image-reader.js';
import { readWcs, type CelestialWcs } from '../wcs.js';
import { ImagingError, type ImagePlane, type PixelArray } from '../types.js';
import type { Card, FitsValue, Header } from '../fits/header.js';

export interface SkyPosition {
  ra: number;
  dec: number;
}

export interface Cutout {
  /** 0-based stamp order (EXTVER - 1 for Stamps files). */
  index: number;
  plane: ImagePlane;
  /** A full sky WCS carried by the image HDU itself. */
  wcs?: CelestialWcs;
  /** The producer's position for this stamp (Stamps RA_DEG/DEC_DEG). */
  position?: SkyPosition;
  /** The producer's catalogue id of the object in this stamp (OBJECT_ID_KEYS), as text. */
  objectId?: string;
  hdu: number;
}

/**
 * Where a producer puts the catalogue id of each stamp's object, in the order
 * looked for: like RA_DEG/DEC_DEG, as repeated primary cards of a Stamps file
 * (one per stamp, in stamp order), or as a card of the stamp's own image HDU
 * (also of an exposure-style cutout). Long names carry the HIERARCH prefix,
 * which the header reader drops. The PI's extra-metadata table, when it names
 * an object, takes precedence (image-name.ts).
 */
export const OBJECT_ID_KEYS = ['OBJECT_ID', 'OBJECTID', 'DIAOBJECT_ID', 'DIAOBJECTID', 'DIAOBJID'] as const;

/** An object id card's value as text: integers with every digit as written (Rubin's ids are 64-bit), blank as none. */
function objectIdText(c: Card | undefined): string | undefined {
  if (!c) return undefined;
  if (c.digits !== undefined) return c.digits.replace(/^(-?)0+(?=\d)/, '$1');
  const v = c.value;
  if (typeof v === 'string') return v.trim() || undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export interface CutoutSummary {
  index: number;
  hdu: number;
  extname?: string;
  extver: number;
  width: number;
  height: number;
  compression?: string;
  position?: SkyPosition;
  hasSkyWcs: boolean;
}

/** A stamp the file should hold but does not, and why. */
export interface MissingStamp {
  index: number;
  reason: string;
}

/**
 * Largest stamp count believed from N_STAMPS: every stamp is at least one
 * HDU, and a file with more HDUs than this is refused anyway (FitsFile).
 */
const MAX_STAMPS = 200_000;

/**
 * The cutouts in one FITS file: an lsst.meas.algorithms.Stamps file (one
 * IMAGE HDU per stamp by EXTVER, positions as repeated primary cards) or an
 * exposure-style cutout (one image). Stamps are read one at a time, so a
 * large file is streamed rather than loaded.
 *
 * A Stamps file has `count` stamp slots: N_STAMPS, or the IMAGE HDUs found
 * when there are more. Stamp k is the IMAGE with EXTVER k + 1, as Rubin's
 * reader takes it; slots with no IMAGE are listed in `missing` (and read()
 * refuses them), so a file that lost stamps says which.
 */
export class FitsCutouts {
  private constructor(
    readonly file: FitsFile,
    readonly kind: 'stamps' | 'exposure',
    private readonly images: (Hdu | undefined)[],
    private readonly positions: (SkyPosition | undefined)[],
    private readonly limits: ReadLimits,
    /** Problems found while indexing that do not stop the other stamps (the file's own first). */
    readonly warnings: string[],
    /** Stamps the file should hold but does not, in index order. */
    readonly missing: readonly MissingStamp[] = [],
    /** Object ids from the primary header, by stamp (an image HDU's own card wins). */
    private readonly objectIds: (string | undefined)[] = [],
  ) {}

  get name(): string {
    return this.file.name;
  }

  /** Stamp slots, missing ones included. */
  get count(): number {
    return this.images.length;
  }

  static async open(path: string, limits: ReadLimits = DEFAULT_READ_LIMITS): Promise<FitsCutouts> {
    const file = await FitsFile.openPath(path);
    try {
      return FitsCutouts.fromFile(file, limits);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /** Cutouts of a file already in memory; `name` stands for its path in messages and provenance. */
  static async fromBytes(bytes: Uint8Array, name: string, limits: ReadLimits = DEFAULT_READ_LIMITS): Promise<FitsCutouts> {
    const file = await FitsFile.fromBytes(bytes, name);
    try {
      return FitsCutouts.fromFile(file, limits);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  static fromFile(file: FitsFile, limits: ReadLimits = DEFAULT_READ_LIMITS): FitsCutouts {
    const primary = file.hdus[0].header;
    const warnings: string[] = [...file.warnings];
    const isStamps = primary.has('N_STAMPS') || primary.has('STAMPCLS');
    if (isStamps) {
      const { images, missing } = stampSlots(file, warnings);
      const ras = primary.getAll('RA_DEG');
      const decs = primary.getAll('DEC_DEG');
      if (ras.length && ras.length !== images.length) {
        warnings.push(`${ras.length} RA_DEG cards for ${images.length} stamps; positions beyond the shorter list are unknown`);
      }
      const positions = images.map((_, i) => position(ras[i], decs[i]));
      const cards = OBJECT_ID_KEYS.map((k) => primary.cardsOf(k)).find((l) => l.length > 0) ?? [];
      if (cards.length && cards.length !== images.length) warnings.push(`${cards.length} object id cards for ${images.length} stamps; ids beyond the shorter list are unknown`);
      const objectIds = images.map((_, i) => objectIdText(cards[i]));
      return new FitsCutouts(file, 'stamps', images, positions, limits, warnings, missing, objectIds);
    }
    const image =
      file.hdus.find((h) => h.extname?.toUpperCase() === 'IMAGE' && isImage(h)) ?? file.hdus.find((h) => isImage(h) && hasData(h));
    if (!image) throw new ImagingError(['no image HDU found', ...file.warnings].join('; '), { file: file.name });
    return new FitsCutouts(file, 'exposure', [image], [undefined], limits, warnings, [], [firstObjectId(primary)]);
  }

  summary(): CutoutSummary[] {
    return this.images.flatMap((h, index) => {
      if (!h) return [];
      const zx = h.compressed ? 'Z' : '';
      const s: CutoutSummary = {
        index,
        hdu: h.index,
        extver: h.extver,
        width: h.header.number(`${zx}NAXIS1`) ?? 0,
        height: h.header.number(`${zx}NAXIS2`) ?? 1,
        hasSkyWcs: readWcs(h.header) !== undefined,
      };
      if (h.extname) s.extname = h.extname;
      if (h.compressed) s.compression = [h.header.string('ZCMPTYPE'), h.header.string('ZQUANTIZ')].filter(Boolean).join(' + ');
      const pos = this.positions[index];
      if (pos) s.position = pos;
      return s;
    });
  }

  async read(index: number): Promise<Cutout> {
    if (!(Number.isInteger(index) && index >= 0 && index < this.count)) {
      throw new ImagingError(`stamp ${index} does not exist (the file has ${this.count})`, { file: this.name });
    }
    const hdu = this.images[index];
    if (!hdu) {
      const why = this.missing.find((m) => m.index === index)?.reason ?? 'no IMAGE for it';
      throw new ImagingError(`stamp ${index + 1} of ${this.count} is missing: ${why}`, { file: this.name });
    }
    let plane: ImagePlane;
    try {
      plane = await readImage(this.file, hdu, this.limits, (kind, n) => this.takeRecycled(kind, n));
    } catch (e) {
      if (e instanceof ImagingError && this.kind === 'stamps') {
        throw new ImagingError(e.message, { stamp: index });
      }
      throw e;
    }
    const c: Cutout = { index, plane, hdu: hdu.index };
    const wcs = readWcs(hdu.header);
    if (wcs) c.wcs = wcs;
    const pos = this.positions[index];
    if (pos) c.position = pos;
    const objectId = firstObjectId(hdu.header) ?? this.objectIds[index];
    if (objectId !== undefined) c.objectId = objectId;
    return c;
  }

  private readonly recycled: PixelArray[] = [];

  private takeRecycled(kind: 'f32' | 'f64', n: number): PixelArray | undefined {
    const i = this.recycled.findIndex((a) => a.length === n && (kind === 'f32') === a instanceof Float32Array);
    return i < 0 ? undefined : this.recycled.splice(i, 1)[0];
  }

  /**
   * Hands a stamp's pixel array back for the next read. Only for callers that
   * are finished with the plane; converting thousands of large stamps then
   * reuses a few arrays instead of leaving each to the garbage collector.
   */
  release(c: Cutout): void {
    if (this.recycled.length < 2) this.recycled.push(c.plane.data);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

function firstObjectId(h: Header): string | undefined {
  for (const k of OBJECT_ID_KEYS) {
    const v = objectIdText(h.cardsOf(k)[0]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The stamp slots of a Stamps file, by EXTVER when the IMAGE HDUs' EXTVERs
 * are distinct and within the count (then a lost stamp in the middle is the
 * one reported, and the others keep their own RA_DEG/DEC_DEG), else in
 * EXTVER order with a warning, as before.
 */
function stampSlots(file: FitsFile, warnings: string[]): { images: (Hdu | undefined)[]; missing: MissingStamp[] } {
  const found = file.hdus.filter((h) => h.extname?.toUpperCase() === 'IMAGE').sort((a, b) => a.extver - b.extver);
  const n = file.hdus[0].header.get('N_STAMPS');
  let declared: number | undefined;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_STAMPS) declared = n;
  else if (n !== undefined) warnings.push(`N_STAMPS = ${JSON.stringify(n)} is not a stamp count; ignored`);
  const slots = Math.max(declared ?? 0, found.length);
  const held = `N_STAMPS says ${declared} but the file holds ${found.length} IMAGE extension${found.length === 1 ? '' : 's'}`;
  if (declared !== undefined && declared < found.length) warnings.push(held);
  const byExtver = new Set(found.map((h) => h.extver)).size === found.length && found.every((h) => Number.isInteger(h.extver) && h.extver >= 1 && h.extver <= slots);
  const images: (Hdu | undefined)[] = new Array<Hdu | undefined>(slots).fill(undefined);
  if (byExtver) {
    for (const h of found) images[h.extver - 1] = h;
  } else {
    found.forEach((h, i) => {
      images[i] = h;
      if (h.extver !== i + 1) warnings.push(`IMAGE EXTVER ${h.extver} found where ${i + 1} was expected`);
    });
  }
  // Not one stamp: the file is unusable as a whole (often cut short), not
  // partial; refused, with what was ignored at its end, so it fails as a file.
  if (slots > 0 && found.length === 0) throw new ImagingError([`no stamps: ${held}`, ...file.warnings].join('; '), { file: file.name });
  const missing: MissingStamp[] = [];
  images.forEach((h, index) => {
    if (!h) missing.push({ index, reason: byExtver ? `${held} (no IMAGE with EXTVER ${index + 1})` : held });
  });
  if (missing.length) warnings.push(`${stampList(missing.map((m) => m.index))} of ${slots} missing: ${held}`);
  return { images, missing };
}

/** 0-based indices as people count stamps: "stamp 2", "stamps 4-5", "stamps 1, 3-4". */
export function stampList(indices: number[]): string {
  const runs: string[] = [];
  for (let k = 0; k < indices.length; ) {
    let j = k;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    runs.push(j === k ? `${indices[k] + 1}` : `${indices[k] + 1}-${indices[j] + 1}`);
    k = j + 1;
  }
  return `${indices.length === 1 ? 'stamp' : 'stamps'} ${runs.join(', ')}`;
}

function isImage(h: Hdu): boolean {
  return h.kind === 'PRIMARY' || h.kind === 'IMAGE' || h.compressed;
}

function hasData(h: Hdu): boolean {
  return h.compressed || h.dataBytes > 0;
}

function position(ra: FitsValue | undefined, dec: FitsValue | undefined): SkyPosition | undefined {
  const r = toNumber(ra);
  const d = toNumber(dec);
  if (r === undefined || d === undefined || !Number.isFinite(r) || !Number.isFinite(d) || d < -90 || d > 90) return undefined;
  return { ra: ((r % 360) + 360) % 360, dec: d };
}

function toNumber(v: FitsValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return undefined;
}
