/**
 * Repeat filtering for a full (batch) reduction: per (workflow, subject,
 * volunteer) keep the first classification (the default, as documented by
 * panoptes_aggregation and Caesar's keep_first), the last, or all.
 *
 * "First" and "last" are by classification id (Panoptes ids grow with time;
 * the API pull and `last_id` cursors use the same order) or, optionally, by
 * created_at with the id breaking ties. The decision is per classification:
 * all tasks of a kept classification are kept together, so a volunteer's
 * answers to different tasks never come from different classifications.
 *
 * Note that `panoptes_aggregation reduce` has ignored `-F` since 2023 and
 * reduces every classification; the bridge keeps "first" unless told
 * otherwise, which is what its documentation and Caesar promise.
 */
import type { ExtractHeader, RepeatMode } from './types.js';
import { compareCreated, compareIds } from './volunteer.js';

export type RepeatOrder = 'id' | 'createdAt';

type Keyed = Pick<ExtractHeader, 'classificationId' | 'workflowId' | 'subjectId' | 'volunteer' | 'createdAt'>;

const byOrder = (order: RepeatOrder) => (a: Keyed, b: Keyed) =>
  order === 'id' ? compareIds(a.classificationId, b.classificationId) : compareCreated({ createdAt: a.createdAt, id: a.classificationId }, { createdAt: b.createdAt, id: b.classificationId });

/** The items to keep, sorted in the chosen order (a stable, canonical order for the reducers). */
export function filterRepeats<T extends Keyed>(items: readonly T[], mode: RepeatMode = 'first', order: RepeatOrder = 'id'): T[] {
  const cmp = byOrder(order);
  const sorted = [...items].sort(cmp);
  if (mode === 'all') return sorted;
  const winner = new Map<string, string>();
  for (const it of sorted) {
    const k = `${it.workflowId}\u0000${it.subjectId}\u0000${it.volunteer}`;
    // Sorted ascending: the first seen is the first, the last seen the last.
    if (mode === 'last' || !winner.has(k)) winner.set(k, it.classificationId);
  }
  return sorted.filter((it) => winner.get(`${it.workflowId}\u0000${it.subjectId}\u0000${it.volunteer}`) === it.classificationId);
}
