import type { Image, ImageState } from '../schema.js';
import type { Page } from './artifacts.js';
import type { Tx } from './transitions.js';

export interface NewImage {
  collectionId: string;
  groupKey: string;
  stampIndex: number;
  state: 'quarantined' | 'failed';
  ra: number | null;
  dec: number | null;
  wcsQuality: 'full' | 'position' | 'none';
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  quarantineKey: string;
  bands: string[];
  colour: Record<string, unknown>;
  error: string | null;
  batchId?: string | null;
  /** ISO 8601, from the FITS headers; null when they do not say. */
  observedAt?: string | null;
}

/**
 * One image per (collection, group, stamp): converting a group twice adds
 * nothing. All of a group's images go in one statement (and their
 * transitions in another), which is what keeps a 100-stamp group from
 * costing 200 round trips. Returns the rows actually inserted.
 */
export async function insertImages(db: Tx, images: NewImage[], actor: string): Promise<Image[]> {
  if (!images.length) return [];
  const out: Image[] = [];
  // Postgres caps bind parameters at 65535; 15 columns x 1000 rows stays well under.
  for (let i = 0; i < images.length; i += 1000) {
    const rows = await db
      .insertInto('images')
      .values(
        images.slice(i, i + 1000).map((m) => ({
          collection_id: m.collectionId,
          group_key: m.groupKey,
          stamp_index: m.stampIndex,
          state: m.state,
          ra: m.ra,
          dec: m.dec,
          wcs_quality: m.wcsQuality,
          width: m.width,
          height: m.height,
          bytes: m.bytes,
          sha256: m.sha256,
          quarantine_key: m.quarantineKey,
          bands: JSON.stringify(m.bands),
          colour: JSON.stringify(m.colour),
          error: m.error,
          batch_id: m.batchId ?? null,
          observed_at: m.observedAt ?? null,
        })),
      )
      .onConflict((oc) => oc.columns(['collection_id', 'group_key', 'stamp_index']).doNothing())
      .returningAll()
      .execute();
    if (rows.length) await db.insertInto('transitions').values(rows.map((r) => ({ entity: 'image' as const, entity_id: r.id, from_state: null, to_state: r.state, actor, reason: r.error }))).execute();
    out.push(...rows);
  }
  return out;
}

export async function listImages(db: Tx, collectionId: string, f: { state?: ImageState; after?: string; limit: number }): Promise<Page<Image>> {
  let q = db.selectFrom('images').selectAll().where('collection_id', '=', collectionId).orderBy('id').limit(f.limit + 1);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.after) q = q.where('id', '>', f.after);
  const rows = await q.execute();
  return { items: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1].id : null };
}
