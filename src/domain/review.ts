import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Collection, Image } from '../db/schema.js';
import { getCollection } from '../db/repositories/collections.js';
import { appendAudit, type AuditInput } from '../db/repositories/audit.js';
import { transition, type Tx } from '../db/repositories/transitions.js';
import { evaluatePolicy, PolicyEvaluationError, type PolicyVerdict } from '../policies/evaluate.js';
import { ageHours, type PolicyFacts } from '../policies/facts.js';
import { policyRef, type Policy } from '../policies/policy-file.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.js';
import { recordEvent } from './notify.js';
import type { Logger } from './ports.js';

/**
 * The review step between quarantine and publishing. The data-rights policy
 * gives every new image a verdict (rejected, auto-approved or pending
 * review); reviewers then approve or reject what is pending. Every verdict
 * and decision goes to the append-only audit log with the policy version.
 */
export interface ReviewDeps {
  db: Db;
  policy: Policy;
  now: () => Date;
  log: Logger;
}

/** Images that left review for publishing can no longer be decided here. */
const ADMITTED = ['approved', 'published', 'uploaded'] as const;

/**
 * Builds the facts the policy sees for one image. `counts.collection_published`
 * is what other batches already admitted (approved, published, or waiting for
 * review, so two batches in flight cannot pass a cap together).
 */
export function factsFor(c: Collection, img: Image, counts: PolicyFacts['counts'], now: Date): PolicyFacts {
  const observedAt = img.observed_at ? new Date(img.observed_at).toISOString() : null;
  return {
    collection: { id: c.id, name: c.name, owner: c.owner, panel_approval: c.panel_approval },
    owner: { username: c.owner, data_rights: c.owner_data_rights },
    dataset: { type: c.dataset_type, release: (c.data_release ?? c.repository).toLowerCase(), bands: img.bands, observed_at: observedAt, age_hours: ageHours(observedAt, now) },
    cutout: { width: img.width, height: img.height },
    position: { wcs_quality: img.wcs_quality, ra: img.ra, dec: img.dec },
    counts,
  };
}

/**
 * Gives every quarantined image of the collection that has no verdict yet
 * its verdict, in stable order (batch, group, stamp) so caps reject the same
 * images whichever worker runs this. Idempotent: images with a verdict are
 * skipped. An image whose rules fail to evaluate stays without a verdict,
 * with the error on record, and so stays in quarantine.
 */
export async function applyPolicy(d: ReviewDeps, collectionId: string): Promise<{ rejected: number; auto_approved: number; pending_review: number; errors: number }> {
  const out = { rejected: 0, auto_approved: 0, pending_review: 0, errors: 0 };
  const c = await getCollection(d.db, collectionId);
  const now = d.now();
  const byBatch = new Map<string, { rejected: number; auto_approved: number; pending_review: number }>();
  for (;;) {
    const todo = await d.db
      .selectFrom('images')
      .selectAll()
      .where('collection_id', '=', c.id)
      .where('state', '=', 'quarantined')
      .where('verdict', 'is', null)
      .where('error', 'is', null)
      .orderBy('batch_id')
      .orderBy('group_key')
      .orderBy('stamp_index')
      .limit(500)
      .execute();
    if (!todo.length) {
      // One notification per batch that was judged in this run.
      for (const [batchId, counts] of byBatch) await recordEvent(d.db, c.id, 'batch_quarantined', { batchId: batchId === 'none' ? null : batchId, ...counts });
      return out;
    }
    await d.db.transaction().execute(async (tx) => {
      // Taken under a lock on the collection row, so concurrent evaluations of
      // one collection queue up instead of both counting the same free places.
      await sql`select id from collections where id = ${c.id} for update`.execute(tx);
      const today = await countToday(tx, c.id, now);
      const perBatch = new Map<string, { total: number; evaluated: number; admittedBefore: number }>();
      for (const img of todo) {
        const key = img.batch_id ?? 'none';
        let b = perBatch.get(key);
        if (!b) {
          b = { ...(await batchCounts(tx, c.id, img.batch_id)), admittedBefore: await countAdmittedOutside(tx, c.id, img.batch_id) };
          perBatch.set(key, b);
        }
        b.evaluated++;
        // Per-collection caps count what other batches already admitted plus this image's place in its batch.
        const facts = factsFor(c, img, { batch: b.total, batch_position: b.evaluated, collection_today: today, collection_published: b.admittedBefore }, now);
        let verdict: PolicyVerdict;
        try {
          verdict = evaluatePolicy(d.policy, facts);
        } catch (e) {
          if (!(e instanceof PolicyEvaluationError)) throw e;
          out.errors++;
          await tx.updateTable('images').set({ error: `policy could not be evaluated: ${e.message}`, updated_at: new Date() }).where('id', '=', img.id).execute();
          await appendAudit(tx, [{ actor: policyActor(policyRef(d.policy)), action: 'policy_error', entity: 'image', entityId: img.id, collectionId: c.id, policyRef: policyRef(d.policy), reason: e.message }]);
          continue;
        }
        await recordVerdict(tx, img, c, verdict, facts);
        out[verdict.outcome]++;
        const counts = byBatch.get(key) ?? { rejected: 0, auto_approved: 0, pending_review: 0 };
        counts[verdict.outcome]++;
        byBatch.set(key, counts);
      }
    });
  }
}

/** Who the audit log names for the policy's own decisions. */
function policyActor(ref: string): string {
  return `policy:${ref}`;
}

async function recordVerdict(tx: Tx, img: Image, c: Collection, v: PolicyVerdict, facts: PolicyFacts): Promise<void> {
  const set = {
    verdict: v.outcome,
    verdict_reasons: JSON.stringify(v.reasons),
    verdict_rules: JSON.stringify(v.matched.map((m) => ({ id: m.rule_id, description: m.description }))),
    strip_coordinates: v.strip_coordinates,
    one_incomplete_set: v.one_incomplete_set,
    policy_ref: v.policy.ref,
    policy_digest: v.policy.digest,
    evaluated_at: new Date(),
    updated_at: new Date(),
  };
  const actor = policyActor(v.policy.ref);
  if (v.outcome === 'pending_review') {
    await tx.updateTable('images').set(set).where('id', '=', img.id).execute();
  } else {
    const to = v.outcome === 'rejected' ? 'rejected' : 'approved';
    await transition(tx, 'image', img.id, 'quarantined', to, actor, set, v.reasons.join('; ') || null);
  }
  await appendAudit(tx, [
    {
      actor,
      action: `policy_${v.outcome}`,
      entity: 'image',
      entityId: img.id,
      collectionId: c.id,
      policyRef: v.policy.ref,
      reason: v.reasons.join('; ') || null,
      // The facts as evaluated, so `bridge policy explain` replays this exact decision.
      detail: { rules: v.matched.map((m) => m.rule_id), strip_coordinates: v.strip_coordinates, ...(v.one_incomplete_set ? { one_incomplete_set: true } : {}), digest: v.policy.digest, facts },
    },
  ]);
}

/** Images of other batches that were admitted (approved on, or waiting for review). */
async function countAdmittedOutside(tx: Tx, collectionId: string, batchId: string | null): Promise<number> {
  let q = tx
    .selectFrom('images')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('collection_id', '=', collectionId);
  q = batchId === null ? q.where('batch_id', 'is not', null) : q.where((eb) => eb.or([eb('batch_id', 'is', null), eb('batch_id', '!=', batchId)]));
  const r = await q
    .where((eb) => eb.or([eb('state', 'in', [...ADMITTED]), eb.and([eb('state', '=', 'quarantined'), eb('verdict', '=', 'pending_review')])]))
    .executeTakeFirstOrThrow();
  return r.n;
}

async function countToday(tx: Tx, collectionId: string, now: Date): Promise<number> {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const r = await tx
    .selectFrom('images')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('collection_id', '=', collectionId)
    .where('created_at', '>=', start)
    .where('verdict', 'is not', null)
    .executeTakeFirstOrThrow();
  return r.n;
}

async function batchCounts(tx: Tx, collectionId: string, batchId: string | null): Promise<{ total: number; evaluated: number }> {
  let q = tx
    .selectFrom('images')
    .select([sql<number>`count(*)::int`.as('total'), sql<number>`count(*) filter (where verdict is not null)::int`.as('evaluated')])
    .where('collection_id', '=', collectionId)
    .where('state', '!=', 'failed');
  q = batchId === null ? q.where('batch_id', 'is', null) : q.where('batch_id', '=', batchId);
  return q.executeTakeFirstOrThrow();
}

// ---------------------------------------------------------------------------
// Reviewer decisions

export type DecisionAction = 'approve' | 'reject' | 'undo';

export interface Reviewer {
  username: string;
  roles: string[];
}

export interface DecisionResult {
  imageId: string;
  ok: boolean;
  state?: string;
  error?: string;
}

/**
 * Applies one reviewer decision to many images. Each image succeeds or fails
 * on its own (a bulk approve of 50 with one already published approves 49),
 * and each success is one audit entry. Separation of duties: nobody decides
 * on their own collection's images, admins included.
 */
export async function decide(db: Db, who: Reviewer, imageIds: string[], action: DecisionAction, reason: string | null): Promise<DecisionResult[]> {
  if (!who.roles.includes('reviewer')) throw new ForbiddenError('only EPO reviewers decide on images');
  if (action === 'reject' && !reason?.trim()) throw new ValidationError('a reason is required to reject', { field: 'reason' });
  const results: DecisionResult[] = [];
  for (const id of imageIds) {
    try {
      const state = await db.transaction().execute(async (tx) => decideOne(tx, who, id, action, reason?.trim() || null));
      results.push({ imageId: id, ok: true, state });
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof ForbiddenError || e instanceof NotFoundError)) throw e;
      results.push({ imageId: id, ok: false, error: e.message });
    }
  }
  return results;
}

async function decideOne(tx: Tx, who: Reviewer, id: string, action: DecisionAction, reason: string | null): Promise<string> {
  const img = await tx.selectFrom('images').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!img) throw new NotFoundError(`image ${id} not found`);
  const c = await getCollection(tx, img.collection_id);
  if (c.owner === who.username) throw new ForbiddenError(`image ${id} belongs to your own collection ${c.name}; another reviewer must decide`);
  let to: string;
  if (action === 'approve') {
    if (img.state !== 'quarantined') throw new ConflictError(`image ${id} is ${img.state}, not waiting for review`);
    if (img.verdict !== 'pending_review') throw new ConflictError(img.verdict === null ? `image ${id} has no policy verdict yet${img.error ? ` (${img.error})` : ''}` : `image ${id} was not left for review by the policy`);
    to = 'approved';
  } else if (action === 'reject') {
    if (img.state !== 'quarantined' && img.state !== 'approved') throw new ConflictError(`image ${id} is ${img.state}; only images not yet published can be rejected here`);
    to = 'rejected';
  } else {
    // Undo returns a reviewer's decision to review; the policy's own verdicts stand.
    if (img.state !== 'approved' && img.state !== 'rejected') throw new ConflictError(`image ${id} is ${img.state}; only approved or rejected images not yet published can be undone`);
    const last = await tx.selectFrom('audit_log').select(['actor', 'action']).where('entity_id', '=', id).where('action', 'in', ['approve', 'reject', 'undo', 'policy_rejected', 'policy_auto_approved']).orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (!last || last.action.startsWith('policy_')) throw new ConflictError(`image ${id} was ${img.state} by the policy, not by a reviewer; it cannot be undone`);
    to = 'quarantined';
  }
  const moved = await transition(tx, 'image', id, img.state, to, who.username, {}, reason);
  if (!moved) throw new ConflictError(`image ${id} changed while deciding; reload and try again`);
  const entry: AuditInput = { actor: who.username, action, entity: 'image', entityId: id, collectionId: c.id, policyRef: img.policy_ref, reason, detail: { from: img.state, to } };
  await appendAudit(tx, [entry]);
  return to;
}
