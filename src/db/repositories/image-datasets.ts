import type { ImageDataset } from '../schema.js';
import type { Tx } from './transitions.js';

/** Links images to the datasets they were made from, in statements of 1,000 rows; a link already there is kept. */
export async function linkDatasets(db: Tx, links: ImageDataset[]): Promise<void> {
  for (let i = 0; i < links.length; i += 1000) {
    await db
      .insertInto('image_datasets')
      .values(links.slice(i, i + 1000))
      .onConflict((oc) => oc.columns(['image_id', 'position']).doNothing())
      .execute();
  }
}

/**
 * The dataset ids behind each image, listed by band and then id: the order
 * subjects' #dataset_ids have always had. Images without links are absent.
 */
export async function datasetIdsByImage(db: Tx, imageIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < imageIds.length; i += 1000) {
    const rows = await db
      .selectFrom('image_datasets')
      .select(['image_id', 'dataset_id'])
      .where('image_id', 'in', imageIds.slice(i, i + 1000))
      .orderBy('image_id')
      .orderBy('band')
      .orderBy('dataset_id')
      .execute();
    for (const r of rows) out.set(r.image_id, [...(out.get(r.image_id) ?? []), r.dataset_id]);
  }
  return out;
}
