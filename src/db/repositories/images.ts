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
}

/** One image per (collection, group, stamp): converting a group twice adds nothing. */
export async function insertImage(db: Tx, i: NewImage, actor: string): Promise<Image | undefined> {
  const row = await db
    .insertInto('images')
    .values({
      collection_id: i.collectionId,
      group_key: i.groupKey,
      stamp_index: i.stampIndex,
      state: i.state,
      ra: i.ra,
      dec: i.dec,
      wcs_quality: i.wcsQuality,
      width: i.width,
      height: i.height,
      bytes: i.bytes,
      sha256: i.sha256,
      quarantine_key: i.quarantineKey,
      bands: JSON.stringify(i.bands),
      colour: JSON.stringify(i.colour),
      error: i.error,
    })
    .onConflict((oc) => oc.columns(['collection_id', 'group_key', 'stamp_index']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row) await db.insertInto('transitions').values({ entity: 'image', entity_id: row.id, from_state: null, to_state: i.state, actor, reason: i.error }).execute();
  return row;
}

export async function listImages(db: Tx, collectionId: string, f: { state?: ImageState; after?: string; limit: number }): Promise<Page<Image>> {
  let q = db.selectFrom('images').selectAll().where('collection_id', '=', collectionId).orderBy('id').limit(f.limit + 1);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.after) q = q.where('id', '>', f.after);
  const rows = await q.execute();
  return { items: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1].id : null };
}
