import { POLICY_ERROR_PREFIX, type Collection, type Image, type ImageState } from './model.js';
import type { AuditInput } from './ports/audit-repository.js';
import type { Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';
import type { VerdictWrite } from './ports/images-repository.js';
import { evaluatePolicy, PolicyEvaluationError, type PolicyVerdict } from '../policies/evaluate.js';
import { ageHours, type PolicyFacts } from '../policies/facts.js';
import { policyRef, type Policy } from '../policies/policy-file.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.js';
import { settleBatches } from './batch-settlement.js';
import { imageNames } from './image-name.js';

/**
 * The review step between quarantine and publishing. The data-rights policy
 * gives every new image a verdict (rejected, auto-approved or pending
 * review); reviewers then approve or reject what is pending. Every verdict
 * and decision goes to the append-only audit log with the policy version.
 */
export interface ReviewDeps {
  repos: Repositories;
  policy: Policy;
  clock: Clock;
  log: Logger;
}

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
    dataset: { type: c.dataset_type, release: (c.data_release ?? 'unknown').toLowerCase(), release_source: c.release_source, proprietary: c.release_proprietary, embargo_hours: c.release_embargo_hours, bands: img.bands, observed_at: observedAt, age_hours: ageHours(observedAt, now) },
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
export interface PolicyRun {
  rejected: number;
  auto_approved: number;
  pending_review: number;
  held: number;
  errors: number;
  /** Images the policy approved on its own in this run: ready to be released without a reviewer. */
  autoApprovedIds: string[];
}

export async function applyPolicy(d: ReviewDeps, collectionId: string): Promise<PolicyRun> {
  const out: PolicyRun = { rejected: 0, auto_approved: 0, pending_review: 0, held: 0, errors: 0, autoApprovedIds: [] };
  const c = await d.repos.collections.get(collectionId);
  const now = d.clock.now();
  for (;;) {
    const judged = await d.repos.transaction(async (tx) => {
      // Taken under a lock on the collection row, so concurrent evaluations of
      // one collection queue up instead of both counting the same free places;
      // what awaits a verdict is read under it too, or the second would judge
      // again what the first judged while it waited.
      await tx.collections.lock(c.id);
      const todo = await tx.images.awaitingVerdict(c.id, 500);
      if (!todo.length) return false;
      const today = await tx.images.countJudgedSince(c.id, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())));
      const perBatch = new Map<string, { total: number; evaluated: number; admittedBefore: number }>();
      // Verdicts are written together (one statement for the images, one for their audit rows), before any
      // count is read again, so each batch's counts see every verdict given before it, as row by row.
      const pending = { verdicts: [] as VerdictWrite[], audit: [] as AuditInput[] };
      const write = async () => {
        await tx.images.recordVerdicts(pending.verdicts, policyActor(policyRef(d.policy)));
        await tx.audit.append(pending.audit);
        pending.verdicts = [];
        pending.audit = [];
      };
      for (const img of todo) {
        const key = img.batch_id ?? 'none';
        let b = perBatch.get(key);
        if (!b) {
          await write();
          b = { ...(await tx.images.batchReviewCounts(c.id, img.batch_id)), admittedBefore: await tx.images.countAdmittedOutside(c.id, img.batch_id) };
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
          await write();
          await tx.images.update(img.id, { error: `${POLICY_ERROR_PREFIX}${e.message}` });
          await tx.audit.append([{ actor: policyActor(policyRef(d.policy)), action: 'policy_error', entity: 'image', entityId: img.id, collectionId: c.id, policyRef: policyRef(d.policy), reason: e.message }]);
          continue;
        }
        const v = verdictWrite(img, c, verdict, facts, now);
        pending.verdicts.push(v.write);
        pending.audit.push(v.audit);
        out[verdict.outcome]++;
        if (verdict.outcome === 'auto_approved') out.autoApprovedIds.push(img.id);
      }
      await write();
      return true;
    });
    if (!judged) {
      // Batches whose last images were judged now are announced, once each.
      await settleBatches(d.repos, c);
      return out;
    }
  }
}

/** Who the audit log names for the policy's own decisions. */
function policyActor(ref: string): string {
  return `policy:${ref}`;
}

/** What recording one verdict writes: the image's verdict (and its move out of quarantine when approved or rejected), and its audit row. */
function verdictWrite(img: Image, c: Collection, v: PolicyVerdict, facts: PolicyFacts, now: Date): { write: VerdictWrite; audit: AuditInput } {
  const changes = {
    verdict: v.outcome,
    verdict_reasons: v.reasons,
    verdict_rules: v.matched.map((m) => ({ id: m.rule_id, description: m.description })),
    strip_coordinates: v.strip_coordinates,
    one_incomplete_set: v.one_incomplete_set,
    policy_ref: v.policy.ref,
    policy_digest: v.policy.digest,
    evaluated_at: now,
  };
  // Waiting for a reviewer, or held until a fact changes: either way it stays in quarantine.
  const to = v.outcome === 'pending_review' || v.outcome === 'held' ? undefined : v.outcome === 'rejected' ? 'rejected' : 'approved';
  return {
    write: { id: img.id, changes, ...(to ? { to } : {}), reason: v.reasons.join('; ') || null },
    audit: {
      actor: policyActor(v.policy.ref),
      action: `policy_${v.outcome}`,
      entity: 'image',
      entityId: img.id,
      collectionId: c.id,
      policyRef: v.policy.ref,
      reason: v.reasons.join('; ') || null,
      // The facts as evaluated, so `bridge policy explain` replays this exact decision.
      detail: { rules: v.matched.map((m) => m.rule_id), strip_coordinates: v.strip_coordinates, ...(v.one_incomplete_set ? { one_incomplete_set: true } : {}), digest: v.policy.digest, facts },
    },
  };
}

// ---------------------------------------------------------------------------
// Reviewer decisions

/**
 * `publish_now` (admins only) ends the publishing delay of images a
 * reviewer already approved; `approve` with `publishNow` does both at once.
 */
export type DecisionAction = 'approve' | 'reject' | 'undo' | 'publish_now';

export interface DecideOptions {
  now?: Date;
  /**
   * PUBLISH_DELAY_SECONDS: how long a reviewer's approval waits before it is
   * published, so that a slip (a bulk approve of the wrong page) can be
   * undone before anything is public. A collection's
   * `publish_delay_seconds` (set by an admin) overrides it. Default 0.
   */
  publishDelaySeconds?: number;
  /** Approve and publish at once (admins only): the explicit second action. */
  publishNow?: boolean;
}

export interface Reviewer {
  username: string;
  roles: string[];
}

export interface DecisionResult {
  imageId: string;
  ok: boolean;
  state?: string;
  /** For approvals: when the image will be published (ISO time); Undo works until then. */
  publishAfter?: string;
  error?: string;
}

/**
 * Applies one reviewer decision to many images. Each image succeeds or fails
 * on its own (a bulk approve of 50 with one already published approves 49),
 * and each success is one audit entry. Separation of duties: nobody decides
 * on their own collection's images, admins included.
 *
 * The decisions, their audit entries and the PI's events (one per
 * collection) commit together: a crash cannot leave a decision nobody was
 * told about. A refused image writes nothing, so it never spoils the rest.
 */
export async function decide(repos: Repositories, who: Reviewer, imageIds: string[], action: DecisionAction, reason: string | null, opts: DecideOptions = {}): Promise<DecisionResult[]> {
  // Ending a delay is an operator's act on a decision already taken, so admins need not be reviewers for it.
  if (action !== 'publish_now' && !who.roles.includes('reviewer')) throw new ForbiddenError('only EPO reviewers decide on images');
  if ((opts.publishNow || action === 'publish_now') && !who.roles.includes('admin')) throw new ForbiddenError('only admins may publish without the publishing delay; approve, and it publishes when the delay ends');
  if (opts.publishNow && action !== 'approve') throw new ValidationError('publishNow goes with the approve action', { field: 'publishNow' });
  const now = opts.now ?? new Date();
  if (action === 'reject' && !reason?.trim()) throw new ValidationError('a reason is required to reject', { field: 'reason' });
  const why = reason?.trim() || null;
  return repos.transaction(async (tx) => {
    const results: DecisionResult[] = [];
    const byCollection = new Map<string, string[]>();
    // Refusals name each image as the reviewer sees it on the page (image-name.ts); all are named in one go.
    const names = await imageNames(tx, await tx.images.findMany(imageIds));
    for (const id of imageIds) {
      try {
        const { state, collectionId, publishAfter } = await decideOne(tx, who, id, action, why, now, opts, names.get(id)?.name ?? `image ${id}`);
        results.push({ imageId: id, ok: true, state, ...(publishAfter ? { publishAfter: publishAfter.toISOString() } : {}) });
        byCollection.set(collectionId, [...(byCollection.get(collectionId) ?? []), id]);
      } catch (e) {
        if (!(e instanceof ConflictError || e instanceof ForbiddenError || e instanceof NotFoundError)) throw e;
        results.push({ imageId: id, ok: false, error: e.message });
      }
    }
    // Undo returns images to review: nothing a PI acts on.
    if (action === 'approve' || action === 'reject') {
      for (const [cid, ids] of byCollection) await tx.events.record(cid, action === 'approve' ? 'images_approved' : 'images_rejected', { imageIds: ids, by: who.username, reason });
    }
    return results;
  });
}

/** `name`: how refusals name the image (its name, never its bare id: each result carries the id). */
async function decideOne(tx: Repositories, who: Reviewer, id: string, action: DecisionAction, reason: string | null, now: Date, opts: DecideOptions, name: string): Promise<{ state: ImageState; collectionId: string; publishAfter?: Date }> {
  const img = await tx.images.lock(id);
  const c = await tx.collections.get(img.collection_id);
  if (c.owner === who.username) throw new ForbiddenError(`${name} belongs to your own collection ${c.name}; another reviewer must decide`);
  if (action === 'publish_now') return publishNow(tx, who, img, c.id, reason, now, name);
  let to: ImageState;
  let publishAfter: Date | null = null;
  if (action === 'approve') {
    if (img.state !== 'quarantined') throw new ConflictError(`${name} is ${img.state}, not waiting for review`);
    if (img.verdict === 'held') throw new ConflictError(`${name} is held by the policy (${img.verdict_reasons.join('; ')}); it comes to review when that changes`);
    if (img.verdict !== 'pending_review') throw new ConflictError(img.verdict === null ? `${name} has no policy verdict yet${img.error ? ` (${img.error})` : ''}` : `${name} was not left for review by the policy`);
    to = 'approved';
    const delay = opts.publishNow ? 0 : (c.publish_delay_seconds ?? opts.publishDelaySeconds ?? 0);
    publishAfter = new Date(now.getTime() + delay * 1000);
  } else if (action === 'reject') {
    if (img.state !== 'quarantined' && img.state !== 'approved') throw new ConflictError(`${name} is ${img.state}; only images not yet published can be rejected here`);
    to = 'rejected';
  } else {
    // Undo returns a reviewer's decision to review; the policy's own verdicts stand.
    if (img.state !== 'approved' && img.state !== 'rejected') throw new ConflictError(`${name} is ${img.state}; only approved or rejected images not yet published can be undone`);
    const last = await tx.audit.latest(id, ['approve', 'reject', 'undo', 'policy_rejected', 'policy_auto_approved']);
    if (!last || last.action.startsWith('policy_')) throw new ConflictError(`${name} was ${img.state} by the policy, not by a reviewer; it cannot be undone`);
    to = 'quarantined';
  }
  // The decision stands against later re-evaluations until undone.
  const moved = await tx.images.transition(id, img.state, to, who.username, { reviewed_by: action === 'undo' ? null : who.username, recheck_reason: null, publish_after: publishAfter }, reason);
  if (!moved) throw new ConflictError(`${name} changed while deciding; reload and try again`);
  const detail: Record<string, unknown> = { from: img.state, to, ...(publishAfter ? { publishAfter: publishAfter.toISOString() } : {}), ...(opts.publishNow ? { publishNow: true } : {}) };
  const entry: AuditInput = { actor: who.username, action, entity: 'image', entityId: id, collectionId: c.id, policyRef: img.policy_ref, reason, detail };
  await tx.audit.append([entry]);
  return { state: to, collectionId: c.id, ...(publishAfter ? { publishAfter } : {}) };
}

/** An admin ends the publishing delay of an image a reviewer approved: it is published now. */
async function publishNow(tx: Repositories, who: Reviewer, img: Image, collectionId: string, reason: string | null, now: Date, name: string): Promise<{ state: ImageState; collectionId: string; publishAfter: Date }> {
  if (img.state !== 'approved') throw new ConflictError(`${name} is ${img.state}; only approved images waiting for their publishing delay can be published now`);
  if (!img.publish_after || img.publish_after <= now) return { state: 'approved', collectionId, publishAfter: img.publish_after ?? now };
  await tx.images.update(img.id, { publish_after: now });
  await tx.audit.append([{ actor: who.username, action: 'publish_now', entity: 'image', entityId: img.id, collectionId, policyRef: img.policy_ref, reason, detail: { was: img.publish_after.toISOString() } }]);
  return { state: 'approved', collectionId, publishAfter: now };
}
