import type { Image } from './model.js';
import type { Repositories } from './ports/repositories.js';
import { extraRowsFor } from './subject-metadata.js';

/**
 * Names a reviewer can say aloud, the same on every page, audit view and
 * error message: "object 1234" when the PI's extra-metadata table gives
 * the image an object id, otherwise where it comes from,
 * "tract 9813 · patch 42 · stamp 3 · gri". Unique within a collection:
 * a group key (the dataId without band) and a stamp index name exactly one
 * image, and an object id is used alone only when exactly one row of the
 * table gives it, under a key that matches one image (its id, or
 * `<dataset id>:<stamp index>`); otherwise the place follows it.
 */

/** Columns of the PI's table that hold an object id, in the order they are read (a `#` or `!` prefix hides them from volunteers, not from us). */
export const OBJECT_ID_COLUMNS = ['objectId', 'object_id', 'diaObjectId', 'dia_object_id'].flatMap((c) => [c, `#${c}`, `!${c}`]);

/** dataId keys first named, in this order; the rest follow alphabetically. The skymap names no place a reviewer tells apart. */
const KEY_ORDER = ['tract', 'patch', 'visit', 'exposure', 'detector'];
const LEFT_OUT = new Set(['skymap']);
/** Filters blue to red, so bands read as astronomers write them ("gri"). */
const BAND_ORDER = ['u', 'g', 'r', 'i', 'z', 'y'];

export type NamedImage = Pick<Image, 'id' | 'collection_id' | 'group_key' | 'stamp_index' | 'bands'>;

/** An object id as the PI's table gave it, and whether it names one image alone. */
export interface ObjectId {
  id: string;
  unique: boolean;
}

/** The dataId an image's group key stands for (canonical JSON; the `#zip:<dataset>` suffix of ZIP renderings is no part of it). */
export function dataIdOf(groupKey: string): Record<string, string | number> {
  const hash = groupKey.indexOf('#zip:');
  try {
    const v = JSON.parse(hash >= 0 ? groupKey.slice(0, hash) : groupKey) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const out: Record<string, string | number> = {};
      for (const [k, x] of Object.entries(v)) if (typeof x === 'string' || typeof x === 'number') out[k] = x;
      return out;
    }
  } catch {
    // Not JSON: a group key this version did not write. The name says the key itself.
  }
  return {};
}

function bandsText(bands: string[]): string {
  const rank = (b: string) => {
    const i = BAND_ORDER.indexOf(b);
    return i < 0 ? BAND_ORDER.length : i;
  };
  const sorted = [...bands].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return sorted.every((b) => b.length === 1) ? sorted.join('') : sorted.join('+');
}

/** Where the image comes from: "tract 9813 · patch 42 · stamp 3 · gri". */
export function placeName(img: Pick<Image, 'group_key' | 'stamp_index' | 'bands'>): string {
  const dataId = dataIdOf(img.group_key);
  const keys = Object.keys(dataId).filter((k) => !LEFT_OUT.has(k));
  keys.sort((a, b) => {
    const ia = KEY_ORDER.indexOf(a);
    const ib = KEY_ORDER.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? KEY_ORDER.length : ia) - (ib < 0 ? KEY_ORDER.length : ib);
    return a.localeCompare(b);
  });
  const parts = keys.map((k) => `${k} ${dataId[k]}`);
  // A group key that is not a dataId (none this version writes) still names its group.
  if (!Object.keys(dataId).length && !/^\{\}(#zip:|$)/.test(img.group_key)) parts.push(`group ${img.group_key.split('#zip:')[0]}`);
  parts.push(`stamp ${img.stamp_index}`);
  if (img.bands.length) parts.push(bandsText(img.bands));
  return parts.join(' · ');
}

/** The one name of an image: "object <id>", or its place (both when the object id alone would not tell it apart). */
export function imageName(img: Pick<Image, 'group_key' | 'stamp_index' | 'bands'>, objectId: ObjectId | string | null = null): string {
  const o = typeof objectId === 'string' ? { id: objectId, unique: true } : objectId;
  if (!o) return placeName(img);
  return o.unique ? `object ${o.id}` : `object ${o.id} · ${placeName(img)}`;
}

/** The object id in one table row (the first object-id column it has), if any. */
export function objectIdIn(row: Record<string, unknown> | undefined): string | null {
  if (!row) return null;
  for (const c of OBJECT_ID_COLUMNS) {
    const v = row[c];
    if ((typeof v === 'string' && v.trim()) || (typeof v === 'number' && Number.isFinite(v))) return String(v).trim();
  }
  return null;
}

/** The table keys that may hold an image's row, as subject metadata matches them. */
export function candidateKeys(img: Pick<Image, 'id' | 'stamp_index'>, datasetIds: string[]): string[] {
  return [img.id, String(img.stamp_index), ...datasetIds.map((ds) => `${ds}:${img.stamp_index}`)];
}

export interface ImageNaming {
  name: string;
  objectId: string | null;
  dataId: Record<string, string | number>;
}

/**
 * Names many images at once: four queries whatever their number (their
 * dataset ids, the object-id rows of their collections' tables under the
 * keys that may match them, and the ids their FITS files gave), never one
 * per image. The PI's table wins over the file: it is how a PI corrects or
 * replaces what the producer wrote.
 */
export async function imageNames(repos: Repositories, images: NamedImage[]): Promise<Map<string, ImageNaming>> {
  const out = new Map<string, ImageNaming>();
  if (!images.length) return out;
  const [datasets, fromFiles] = await Promise.all([repos.images.datasetIds(images.map((i) => i.id)), repos.images.sourceObjectIds(images.map((i) => i.id))]);
  const keys = new Set<string>();
  for (const img of images) for (const k of candidateKeys(img, datasets.get(img.id) ?? [])) keys.add(k);
  const rows = await repos.collections.objectIdRows([...new Set(images.map((i) => i.collection_id))], [...keys], OBJECT_ID_COLUMNS);
  const tables = new Map<string, Record<string, { id: string; uses: number }>>();
  for (const r of rows) tables.set(r.collectionId, { ...tables.get(r.collectionId), [r.key]: { id: r.objectId, uses: r.uses } });
  for (const img of images) {
    const ds = datasets.get(img.id) ?? [];
    const table = tables.get(img.collection_id) ?? {};
    // The same matching as the subject's metadata: stamp, then dataset:stamp, then image id; the most specific row with an id wins.
    const matched = extraRowsFor(table, img.id, img.stamp_index, ds).filter((m) => m.row);
    const last = matched.at(-1);
    const file = fromFiles.get(img.id);
    const o = last ? { id: last.row!.id, unique: last.row!.uses === 1 && last.key !== String(img.stamp_index) } : file !== undefined ? { id: file, unique: true } : null;
    out.set(img.id, { name: imageName(img, o), objectId: o?.id ?? null, dataId: dataIdOf(img.group_key) });
  }
  return out;
}

/** One image's name (an image not found is named by nothing: null). */
export async function nameOf(repos: Repositories, img: NamedImage): Promise<string> {
  return (await imageNames(repos, [img])).get(img.id)!.name;
}
