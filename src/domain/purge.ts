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
  for (const c of await d.repos.collections.list({ owner })) {
    const retracted = (await retractCollection(d, c.id, actor, reason)).filter((r) => r.ok).length;
    const keys = [...(await d.repos.images.quarantineKeys(c.id)), ...(await d.repos.artifacts.objectKeys(c.id))];
    for (const k of keys) await d.store.delete('quarantine', k);
    await d.repos.transaction(async (tx) => {
      await tx.audit.append([{ actor, action: 'purge', entity: 'collection', entityId: c.id, collectionId: c.id, reason, detail: { owner, name: c.name, retracted, objectsDeleted: keys.length } }]);
      await tx.collections.delete(c.id);
    });
    report.collections.push({ id: c.id, name: c.name, retracted, objectsDeleted: keys.length });
  }
  report.sessions = await d.repos.sessions.endAllOf(owner);
  report.delegations = await d.repos.delegations.revokeAllOf(owner);
  return report;
}
