import type { Repositories } from './ports/repositories.js';
import { extraFor, parseExtraMetadata, type SubjectMetadata } from './subject-metadata.js';

/**
 * A reviewer approves an image together with what volunteers will read next
 * to it, the PI's extra metadata. When the PI changes that metadata after
 * the approval and before the image is in an upload batch, the image goes
 * back to review with the changed columns named: approved images return to
 * quarantine, and published ones too (their public object is withdrawn by
 * the sweep, as for any publish that did not finish; approving again
 * publishes the same bytes under the same key). Images already in an upload
 * batch keep the metadata of their manifest, so nothing changes for them.
 *
 * Runs inside the settings change's transaction, under the collection's lock
 * (which manifest planning also takes), so an image cannot be planned into
 * a batch while it is being sent back.
 */
export async function sendBackChangedMetadata(tx: Repositories, collectionId: string, next: unknown, actor: string): Promise<string[]> {
  const c = await tx.collections.lock(collectionId);
  const before = parseExtraMetadata(c.extra_metadata);
  const after = parseExtraMetadata(next);
  const images = await tx.images.reviewerApprovedUnplanned(c.id);
  if (!images.length) return [];
  const datasets = await tx.images.datasetIds(images.map((i) => i.id));
  const sent: string[] = [];
  const audited = [];
  for (const img of images) {
    const ds = datasets.get(img.id) ?? [];
    const columns = changedColumns(extraFor(before, img.id, img.stamp_index, ds), extraFor(after, img.id, img.stamp_index, ds));
    if (!columns.length) continue;
    const reason = `the PI changed its extra metadata after ${img.reviewed_by} approved it (${columns.map((k) => JSON.stringify(k)).join(', ')})`;
    const moved = await tx.images.transition(img.id, img.state, 'quarantined', actor, { verdict: 'pending_review', reviewed_by: null, recheck_reason: reason }, reason);
    if (!moved) continue;
    sent.push(img.id);
    audited.push({ actor, action: 'metadata_changed', entity: 'image' as const, entityId: img.id, collectionId: c.id, policyRef: img.policy_ref, reason, detail: { from: img.state, approvedBy: img.reviewed_by, columns } });
  }
  if (audited.length) {
    await tx.audit.append(audited);
    await tx.events.record(c.id, 'images_back_to_review', { imageIds: sent, reason: 'extra metadata changed after approval' });
  }
  return sent;
}

/** Keys whose value differs (added, removed or changed), sorted. */
function changedColumns(a: SubjectMetadata, b: SubjectMetadata): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}
