import type { ImageFrame } from '../schema.js';
import type { NewFrame } from '../../domain/ports/images-repository.js';
import type { Tx } from './transitions.js';

/** An image's per-band frames (flipbook subjects), in location order; none unless its collection asked for them. */
export async function framesOf(db: Tx, imageId: string): Promise<ImageFrame[]> {
  return db.selectFrom('image_frames').selectAll().where('image_id', '=', imageId).orderBy('position').execute();
}

/** Frames of many images, each image's in location order. */
export async function framesByImage(db: Tx, imageIds: string[]): Promise<Map<string, ImageFrame[]>> {
  const out = new Map<string, ImageFrame[]>();
  for (let i = 0; i < imageIds.length; i += 1000) {
    const rows = await db.selectFrom('image_frames').selectAll().where('image_id', 'in', imageIds.slice(i, i + 1000)).orderBy('image_id').orderBy('position').execute();
    for (const f of rows) out.set(f.image_id, [...(out.get(f.image_id) ?? []), f]);
  }
  return out;
}

/** Frames as conversion records them (not yet published), in statements of 1,000 rows. */
export async function insertFrames(db: Tx, rows: NewFrame[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) await db.insertInto('image_frames').values(rows.slice(i, i + 1000)).execute();
}
