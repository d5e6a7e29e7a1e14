import { sql } from 'kysely';
import type { OutcomeGroupRow, ReviewImageFilter } from '../../domain/ports/images-repository.js';
import type { Tx } from './transitions.js';

/** The reviewer's actions "all N matching" can be narrowed to. */
export type DecisionKind = 'approve' | 'reject' | 'undo';

/**
 * The review page's questions about many images at once: every id a filter
 * matches (for "select all N"), whose images they are, and why a
 * collection's images ended where they did. Each is one or two statements
 * whatever the number of images.
 */

/** States in which a reviewer may still approve, reject or undo (as `canDecide` says). */
const DECIDABLE_STATES = ['quarantined', 'approved', 'rejected'] as const;

export async function reviewIds(db: Tx, f: Omit<ReviewImageFilter, 'after' | 'limit'> & { decidableBy?: string; decidableFor?: DecisionKind }, max: number): Promise<{ ids: string[]; total: number }> {
  let q = db.selectFrom('images').innerJoin('collections', 'collections.id', 'images.collection_id');
  if (f.owner) q = q.where('collections.owner', '=', f.owner);
  if (f.collectionId) q = q.where('images.collection_id', '=', f.collectionId);
  if (f.batchId) q = q.where('images.batch_id', '=', f.batchId);
  if (f.verdict) q = q.where('images.verdict', '=', f.verdict);
  if (f.state) q = q.where('images.state', '=', f.state);
  if (f.decidableBy !== undefined) {
    q = q
      .where('collections.owner', '!=', f.decidableBy)
      .where('images.state', 'in', [...DECIDABLE_STATES])
      .where((eb) => eb.or([eb('images.verdict', 'is', null), eb('images.verdict', 'not in', ['rejected', 'held'])]));
    // The page's canApply (ui/js/decidable.js) in SQL, so "all N matching" acts only where the action applies.
    if (f.decidableFor === 'approve') q = q.where('images.state', '=', 'quarantined').where('images.verdict', '=', 'pending_review');
    if (f.decidableFor === 'reject') {
      q = q.where((eb) => eb.or([eb.and([eb('images.state', '=', 'quarantined'), eb('images.verdict', '=', 'pending_review')]), eb('images.state', '=', 'approved')]));
    }
    if (f.decidableFor === 'undo') q = q.where('images.state', 'in', ['approved', 'rejected']).where('images.reviewed_by', 'is not', null);
  }
  const { n } = await q.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  if (!n || max <= 0) return { ids: [], total: n };
  // The listing's own order (listForReview), so "all N" are the cards of its pages in turn.
  const rows = await q.select('images.id').orderBy('images.created_at').orderBy('images.group_key').orderBy('images.stamp_index').orderBy('images.id').limit(max).execute();
  return { ids: rows.map((r) => r.id), total: n };
}

export async function ownersOf(db: Tx, imageIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < imageIds.length; i += 1000) {
    const rows = await db.selectFrom('images').innerJoin('collections', 'collections.id', 'images.collection_id').select(['images.id', 'collections.owner']).where('images.id', 'in', imageIds.slice(i, i + 1000)).execute();
    for (const r of rows) out.set(r.id, r.owner);
  }
  return out;
}

/**
 * One grouped statement. An image the policy sent to review is grouped by
 * what the review made of it: waiting (pending_review), approved by a
 * reviewer (reviewer_approved: approved, published, uploaded or retracted
 * since) or rejected by one. A cap's reason names the image's place in its
 * batch ("image 7 of 120 in this batch, max_per_batch is ..."; see
 * src/policies/evaluate.ts); that part is cut so one cap makes one group.
 */
export async function outcomeGroups(db: Tx, collectionId: string): Promise<OutcomeGroupRow[]> {
  const r = await sql<{ outcome: OutcomeGroupRow['outcome']; rules: unknown; reason: string; n: number; newest: Date | string | null }>`
    select outcome, rules, reason, count(*)::int as n, max(observed_at) as newest from (
      select
        case when i.state = 'failed' then 'failed'
             when i.state = 'rejected' and i.reviewed_by is not null then 'reviewer_rejected'
             when i.verdict = 'pending_review' and i.state not in ('quarantined', 'rejected') then 'reviewer_approved'
             else i.verdict end as outcome,
        case when i.state = 'failed' or (i.state = 'rejected' and i.reviewed_by is not null) then '[]'::jsonb
             else coalesce((select jsonb_agg(m.r->>'id' order by m.ord) from jsonb_array_elements(i.verdict_rules) with ordinality as m(r, ord)), '[]'::jsonb) end as rules,
        case when i.state = 'failed' then split_part(coalesce(i.error, ''), E'\n', 1)
             when i.state = 'rejected' and i.reviewed_by is not null then coalesce((select a.reason from audit_log a where a.entity_id = i.id and a.action = 'reject' order by a.id desc limit 1), '')
             else regexp_replace(coalesce((select string_agg(x.t, '; ' order by x.ord) from jsonb_array_elements_text(i.verdict_reasons) with ordinality as x(t, ord)), ''), '(over the per-(batch|collection) cap): [^,]*, ', '\\1: ', 'g') end as reason,
        i.observed_at
      from images i
      where i.collection_id = ${collectionId}
    ) t
    where outcome is not null
    group by outcome, rules, reason
    order by n desc, outcome, reason`.execute(db);
  return r.rows.map((x) => ({
    outcome: x.outcome,
    rules: (typeof x.rules === 'string' ? (JSON.parse(x.rules) as string[]) : (x.rules as string[])) ?? [],
    reason: x.reason,
    count: x.n,
    newestObservedAt: x.newest === null ? null : new Date(x.newest),
  }));
}
