import type { Collection, Image } from './model.js';
import { ValidationError } from './errors.js';

/**
 * What a Zooniverse subject says about itself, the same whichever way it is
 * uploaded (subject_set_imports CSV, API JSON, Project Builder export). The
 * prefixes follow shared/reference/zooniverse.md: `#` hidden everywhere,
 * `!` hidden in the classifier and shown in Talk.
 *
 *   #collection, #collection_id, #dataset_ids (comma-separated), #stamp_index,
 *   #bridge_image_id, #content_hash (sha256 of the published bytes),
 *   #upload_batch (API and import paths only)
 *   and, only when the policy kept the coordinates and the image has them:
 *   !ra, !dec (degrees, 6 decimals), !Legacy Survey and !SIMBAD (Markdown links).
 *
 * The image's group key is deliberately left out: it names tract and patch.
 */

export type MetadataValue = string | number | boolean;
export type SubjectMetadata = Record<string, MetadataValue>;

/**
 * The PI's extra columns:
 *
 *   {
 *     "columns": { "survey": "Rubin DP1", "#pipeline": "v2" },
 *     "objects": {
 *       "<bridge image id>":            { "ml_score": 0.93, "#priority": 5 },
 *       "<dataset id>:<stamp index>":   { "ml_score": 0.41 },
 *       "<stamp index>":                { "ml_score": 0.12 }
 *     }
 *   }
 *
 * `columns` go on every subject; `objects` rows on the subjects they match,
 * the most specific key winning (image id, then dataset id:stamp for any of
 * the image's datasets, then the stamp index alone). Values are strings,
 * numbers or booleans; `#priority` must be a number. Column names are the
 * Zooniverse metadata keys themselves, so `#`/`!` prefixes work as usual.
 * The bridge's own keys cannot be overridden. When the policy strips an
 * image's coordinates, extra columns that look positional (by name, or by a
 * value that carries ra=/dec= or a coordinate pair) are left out.
 * Stored as jsonb, which keeps keys in its own order (shorter first): the
 * PI's columns appear in that order, after the bridge's.
 */
export interface ExtraMetadata {
  columns: SubjectMetadata;
  objects: Record<string, SubjectMetadata>;
}

export const BRIDGE_KEYS = ['#collection', '#collection_id', '#dataset_ids', '#stamp_index', '#bridge_image_id', '#content_hash', '#upload_batch'] as const;
export const COORDINATE_KEYS = ['!ra', '!dec', '!Legacy Survey', '!SIMBAD'] as const;
const RESERVED = new Set<string>([...BRIDGE_KEYS, ...COORDINATE_KEYS]);

/**
 * What a collection view shows of its stored table, without checking every
 * row again: it was checked when it was stored, and a 20,000-row table must
 * not cost a full parse on every page load.
 */
export function extraMetadataSummary(raw: unknown): { columns: SubjectMetadata; objects: number; objectColumns: string[] } {
  const stored = (isRecord(raw) ? raw : {}) as { columns?: unknown; objects?: unknown };
  const objects = isRecord(stored.objects) ? stored.objects : {};
  const keys = new Set<string>();
  for (const row of Object.values(objects)) if (isRecord(row)) for (const k of Object.keys(row)) keys.add(k);
  return { columns: isRecord(stored.columns) ? (stored.columns as SubjectMetadata) : {}, objects: Object.keys(objects).length, objectColumns: [...keys] };
}

export function parseExtraMetadata(raw: unknown): ExtraMetadata {
  const out: ExtraMetadata = { columns: {}, objects: {} };
  if (raw === null || raw === undefined) return out;
  if (!isRecord(raw)) throw new ValidationError('extra_metadata must be an object with "columns" and/or "objects"', { field: 'extra_metadata' });
  for (const k of Object.keys(raw)) if (k !== 'columns' && k !== 'objects') throw new ValidationError(`extra_metadata: unknown member "${k}" (expected "columns" and/or "objects")`, { field: 'extra_metadata' });
  if (raw.columns !== undefined) out.columns = parseRow(raw.columns, 'extra_metadata.columns');
  if (raw.objects !== undefined) {
    if (!isRecord(raw.objects)) throw new ValidationError('extra_metadata.objects must map an object key to its columns', { field: 'extra_metadata' });
    for (const [id, row] of Object.entries(raw.objects)) out.objects[id] = parseRow(row, `extra_metadata.objects["${id}"]`);
  }
  return out;
}

function parseRow(row: unknown, where: string): SubjectMetadata {
  if (!isRecord(row)) throw new ValidationError(`${where} must be an object of column: value`, { field: 'extra_metadata' });
  const out: SubjectMetadata = {};
  for (const [k, v] of Object.entries(row)) {
    // Control characters would break the CSV header for some readers and mean nothing to volunteers.
    if (!k.length || k.length > 100 || /[\u0000-\u001f\u007f]/.test(k)) throw new ValidationError(`${where}: column name ${JSON.stringify(k.slice(0, 100))} must be 1-100 printable characters`, { field: 'extra_metadata' });
    if (RESERVED.has(k)) throw new ValidationError(`${where}: "${k}" is set by the bridge and cannot be overridden`, { field: 'extra_metadata' });
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) throw new ValidationError(`${where}["${k}"] must be a string, a finite number or a boolean`, { field: 'extra_metadata' });
    if (k === '#priority' && (typeof v !== 'number' || !Number.isFinite(v))) throw new ValidationError(`${where}["#priority"] must be a number`, { field: 'extra_metadata' });
    out[k] = v;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Names whose words say "position on the sky". */
const POSITIONAL_WORDS = new Set(['ra', 'dec', 'radeg', 'decdeg', 'raj2000', 'dej2000', 'decj2000', 'coord', 'coords', 'coordinate', 'coordinates', 'position', 'pos', 'skycoord', 'lon', 'lat', 'glon', 'glat', 'elon', 'elat', 'wcs', 'crval', 'healpix', 'hpx', 'tract', 'patch', 'legacy', 'simbad', 'ned', 'aladin', 'viewer']);
/** ra=..., dec=..., coord=... in a URL or text, or a pair of decimal degrees / sexagesimal values. */
const POSITIONAL_VALUE = /(?:^|[^a-z])(?:ra|dec|coord|coords|pos|position|target|l|b)\s*[=:]\s*[-+]?\d|[-+]?\d{1,3}\.\d{3,}\s*[, ]\s*[-+]?\d{1,2}\.\d{3,}|\d{1,2}[: h]\d{1,2}[: m]\d{1,2}(?:\.\d+)?s?\s*,?\s*[-+]\d{1,2}[: d°]\d{1,2}/i;

export function looksPositional(key: string, value: MetadataValue): boolean {
  const words = key
    .replace(/^[#!%/]+/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.some((w) => POSITIONAL_WORDS.has(w))) return true;
  return typeof value === 'string' && POSITIONAL_VALUE.test(value);
}

export interface MetadataInput {
  collection: Pick<Collection, 'id' | 'name'>;
  image: Pick<Image, 'id' | 'stamp_index' | 'ra' | 'dec' | 'strip_coordinates'>;
  datasetIds: string[];
  /** sha256 of the bytes volunteers get (the published object). */
  contentHash: string;
  uploadBatchSeq?: number;
}

/** Returns the metadata and the extra columns that were left out because the image's coordinates are stripped. */
export function subjectMetadata(m: MetadataInput, extra: ExtraMetadata): { metadata: SubjectMetadata; dropped: string[] } {
  const { image } = m;
  const metadata: SubjectMetadata = {
    '#collection': m.collection.name,
    '#collection_id': m.collection.id,
    '#dataset_ids': m.datasetIds.join(','),
    '#stamp_index': image.stamp_index,
    '#bridge_image_id': image.id,
    '#content_hash': m.contentHash,
  };
  if (m.uploadBatchSeq !== undefined) metadata['#upload_batch'] = m.uploadBatchSeq;
  const showCoordinates = !image.strip_coordinates && image.ra !== null && image.dec !== null && Number.isFinite(image.ra) && Number.isFinite(image.dec);
  if (showCoordinates) Object.assign(metadata, coordinateColumns(image.ra!, image.dec!));
  const dropped: string[] = [];
  const own = extraFor(extra, image.id, image.stamp_index, m.datasetIds);
  const split = image.strip_coordinates ? splitCoordinatePair(own) : new Set<string>();
  for (const [k, v] of Object.entries(own)) {
    if (image.strip_coordinates && (split.has(k) || looksPositional(k, v))) {
      dropped.push(k);
      continue;
    }
    metadata[k] = v;
  }
  return { metadata, dropped };
}

/** A number written with 4+ decimals, as positions in degrees are (magnitudes and scores rarely need them). */
const PRECISE_DEGREES = /^[-+]?\d{1,3}\.\d{4,}$/;

/**
 * A position hidden in two innocently named columns ("x" = 150.11917,
 * "y" = 2.20583): when one column holds an RA-like value ([0, 360)) and
 * another a Dec-like one ([-90, 90]), both with 4+ decimals, every such
 * column goes. It errs on the safe side: a stripped image loses a precise
 * redshift beside a precise score too, and the PI sees which in `dropped`.
 */
export function splitCoordinatePair(row: SubjectMetadata): Set<string> {
  const degrees = new Map<string, number>();
  for (const [k, v] of Object.entries(row)) {
    const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
    if (PRECISE_DEGREES.test(text)) degrees.set(k, Number(text));
  }
  const raLike = [...degrees].filter(([, d]) => d >= 0 && d < 360).map(([k]) => k);
  const decLike = [...degrees].filter(([, d]) => d >= -90 && d <= 90).map(([k]) => k);
  const pair = raLike.some((a) => decLike.some((b) => a !== b));
  return pair ? new Set([...raLike, ...decLike]) : new Set();
}

/** The PI's extra columns one image gets: collection-wide, then by stamp, by dataset and stamp, by image id (later wins). */
export function extraFor(extra: ExtraMetadata, imageId: string, stamp: number, datasetIds: string[]): SubjectMetadata {
  const out: SubjectMetadata = { ...extra.columns };
  for (const { row } of extraRowsFor(extra.objects, imageId, stamp, datasetIds)) Object.assign(out, row);
  return out;
}

/**
 * The table rows that match one image, least specific first (stamp index,
 * then `<dataset id>:<stamp>` for each of its datasets, then its image id),
 * each with its key (absent rows have `row` undefined). The one matching
 * rule: subject metadata and image names (image-name.ts) both use it.
 */
export function extraRowsFor<R>(objects: Record<string, R>, imageId: string, stamp: number, datasetIds: string[]): { key: string; row: R | undefined }[] {
  const keys = [String(stamp), ...datasetIds.map((ds) => `${ds}:${stamp}`), imageId];
  return keys.map((key) => ({ key, row: Object.hasOwn(objects, key) ? objects[key] : undefined }));
}

/** Shown in Talk only (the `!` prefix); links open the surrounding sky in two public services. */
export function coordinateColumns(ra: number, dec: number): SubjectMetadata {
  const r = ra.toFixed(6);
  const d = dec.toFixed(6);
  const legacy = `https://www.legacysurvey.org/viewer?ra=${r}&dec=${d}&zoom=15`;
  const simbad = `https://simbad.cds.unistra.fr/simbad/sim-coo?${new URLSearchParams({ Coord: `${r} ${dec < 0 ? '' : '+'}${d}`, CooFrame: 'ICRS', Radius: '10', 'Radius.unit': 'arcsec' })}`;
  return { '!ra': r, '!dec': d, '!Legacy Survey': `[view](${legacy})`, '!SIMBAD': `[objects within 10"](${simbad})` };
}

/** Column order: the bridge's keys first, then coordinates, then the PI's in order of first appearance. */
export function metadataColumns(rows: SubjectMetadata[]): string[] {
  const seen = new Set<string>();
  for (const k of [...BRIDGE_KEYS, ...COORDINATE_KEYS]) if (rows.some((r) => k in r)) seen.add(k);
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}
