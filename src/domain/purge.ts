import { appendAudit } from '../db/repositories/audit.js';
import { retractCollection, type TakedownDeps } from './takedown.js';

export interface PurgeReport {
  owner: string;
  collections: { id: string; name: string; retracted: number; objectsDeleted: number }[];
  sessions: number;
  delegations: number;
}

/**
 * Removes a PI's data on request: everything released is taken down first
 * (Zooniverse subjects, public objects), then every quarantined object, then
 * the rows (collections cascade to artifacts, images, batches and the
 * upload ledger). The audit log keeps who purged what and when; it holds ids,
 * not pixels or positions.
 */
export async function purgeOwner(d: TakedownDeps, owner: string, actor: string, reason: string): Promise<PurgeReport> {
  const report: PurgeReport = { owner, collections: [], sessions: 0, delegations: 0 };
  const collections = await d.db.selectFrom('collections').select(['id', 'name']).where('owner', '=', owner).orderBy('created_at').execute();
  for (const c of collections) {
    const retracted = (await retractCollection(d, c.id, actor, reason)).filter((r) => r.ok).length;
    const keys = [
      ...(await d.db.selectFrom('images').select('quarantine_key as key').where('collection_id', '=', c.id).where('quarantine_key', '!=', '').execute()),
      ...(await d.db.selectFrom('image_frames').innerJoin('images', 'images.id', 'image_frames.image_id').select('image_frames.quarantine_key as key').where('images.collection_id', '=', c.id).execute()),
      ...(await d.db.selectFrom('artifacts').select('object_key as key').where('collection_id', '=', c.id).where('object_key', 'is not', null).execute()),
    ];
    for (const k of keys) await d.store.delete('quarantine', k.key!);
    await d.db.transaction().execute(async (tx) => {
      await appendAudit(tx, [{ actor, action: 'purge', entity: 'collection', entityId: c.id, collectionId: c.id, reason, detail: { owner, name: c.name, retracted, objectsDeleted: keys.length } }]);
      await tx.deleteFrom('collections').where('id', '=', c.id).execute();
    });
    report.collections.push({ id: c.id, name: c.name, retracted, objectsDeleted: keys.length });
  }
  report.sessions = Number((await d.db.deleteFrom('sessions').where('username', '=', owner).executeTakeFirst()).numDeletedRows);
  report.delegations = Number((await d.db.deleteFrom('delegations').where('username', '=', owner).executeTakeFirst()).numDeletedRows);
  return report;
}
