import { Router } from 'express';
import { z } from 'zod';
import type { AuditEntry } from '../domain/model.js';
import type { Repositories } from '../domain/ports/repositories.js';
import { decide, type DecisionAction } from '../domain/review.js';
import { listForReview, reviewIds, visibleForReview, type ReviewCard } from '../domain/review-listing.js';
import { imageNames } from '../domain/image-name.js';
import { collectionWhy } from '../domain/collection-why.js';
import type { ImageFrame } from '../domain/model.js';
import { changeableCollection, removeWebhook, setWebhook, visibleCollection, visibleImage } from '../domain/collections.js';
import type { ReleaseProgress } from '../domain/release.js';
import { requireRole, type Identity } from './auth.js';
import type { MediaSigner } from './media.js';
import type { Logger } from '../domain/ports/logger.js';

export interface ReviewRoutesDeps {
  repos: Repositories;
  signer: MediaSigner;
  /** Starts publishing what was just approved (the release flow). */
  release: (collectionId: string, imageIds: string[], opts: { delayMs: number }) => Promise<unknown>;
  /** PUBLISH_DELAY_SECONDS (a collection's admin override wins). */
  publishDelaySeconds: number;
  releaseProgress: (collectionId: string, opts: { uploading: boolean }) => Promise<ReleaseProgress>;
  log: Logger;
  /** Dev and tests: webhooks on plain http (e.g. a local receiver). */
  allowHttpWebhooks: boolean;
  /** WEBHOOK_ALLOWED_HOSTS: hosts exempt from the private-address check. */
  webhookAllowedHosts?: readonly string[];
  /** Zooniverse credentials are configured: manifested batches are on their way, not resting. */
  uploading: boolean;
}

const uuid = z.string().uuid();

const listQuery = z.object({
  collection: uuid.optional(),
  batch: uuid.optional(),
  verdict: z.enum(['pending_review', 'held', 'auto_approved', 'rejected']).optional(),
  state: z.enum(['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(2000).optional(),
});

const decisionBody = z
  .object({
    imageIds: z.array(uuid).min(1).max(500),
    action: z.enum(['approve', 'reject', 'undo']),
    reason: z.string().trim().max(2000).optional(),
    /** Admins: approve and publish without the publishing delay. */
    publishNow: z.boolean().optional(),
  })
  .strict();

const publishNowBody = z
  .object({ imageIds: z.array(uuid).min(1).max(500), reason: z.string().trim().min(1, 'say why these cannot wait for the publishing delay').max(2000) })
  .strict();

const auditQuery = z.object({ before: z.string().regex(/^\d{1,18}$/).optional(), limit: z.coerce.number().int().min(1).max(500).default(200) });

const refreshQuery = z.object({
  ids: z
    .string()
    .max(500 * 37)
    .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(uuid).min(1).max(500)),
});

function auditView(a: AuditEntry, imageName: string | null) {
  return { id: String(a.id), at: a.at, actor: a.actor, action: a.action, imageId: a.entity_id, imageName, reason: a.reason, policyVersion: a.policy_ref, detail: a.detail };
}

/** A page of audit entries, those about an image with the image's name (all named in one go). */
async function auditViews(repos: Repositories, entries: AuditEntry[]) {
  const ids = [...new Set(entries.filter((a) => a.entity === 'image').map((a) => a.entity_id))];
  const names = ids.length ? await imageNames(repos, await repos.images.findMany(ids)) : new Map<string, { name: string }>();
  return entries.map((a) => auditView(a, a.entity === 'image' ? (names.get(a.entity_id)?.name ?? null) : null));
}

/** The short-lived URLs of an image and its frames, all ending at `expiresAt`. */
function mediaView(img: { quarantine_key: string }, frames: ImageFrame[], signer: MediaSigner, now: number) {
  return {
    previewUrl: img.quarantine_key ? signer.sign(img.quarantine_key, now) : null,
    frames: frames.map((f) => ({ band: f.band, previewUrl: signer.sign(f.quarantine_key, now) })),
    previewExpiresAt: signer.expiresAt(now).toISOString(),
  };
}

export function reviewRoutes(d: ReviewRoutesDeps): Router {
  const r = Router();

  const visible = (id: string, who: Identity) => visibleCollection(d.repos, who, uuid.parse(id));

  r.get('/review/batches', requireRole('pi'), async (req, res) => {
    const q = z.object({ collection: uuid }).parse(req.query);
    const c = await visibleCollection(d.repos, req.identity!, q.collection);
    const rows = await d.repos.batches.list(c.id);
    res.json({ items: rows.map((b) => ({ id: b.id, collectionId: b.collection_id, seq: b.seq, createdAt: b.created_at, counts: { pending: b.pending, approved: b.approved, rejected: b.rejected, total: b.total } })) });
  });

  r.get('/review/images', requireRole('pi'), async (req, res) => {
    const q = listQuery.parse(req.query);
    const page = await listForReview(d.repos, req.identity!, { collectionId: q.collection, batchId: q.batch, verdict: q.verdict, state: q.state, after: q.after, limit: q.limit });
    const now = Date.now();
    res.json({ items: page.items.map((card) => imageView(card, d.signer, now)), next: page.next, total: page.total });
  });

  r.get('/review/image-ids', requireRole('pi'), async (req, res) => {
    const q = listQuery
      .omit({ limit: true, after: true })
      .extend({ decidable: z.enum(['true', 'false', 'approve', 'reject', 'undo']).optional() })
      .parse(req.query);
    const decidableFor = q.decidable === 'approve' || q.decidable === 'reject' || q.decidable === 'undo' ? q.decidable : undefined;
    res.json(await reviewIds(d.repos, req.identity!, { collectionId: q.collection, batchId: q.batch, verdict: q.verdict, state: q.state, decidable: q.decidable === 'true', decidableFor }));
  });

  r.get('/review/images/refresh', requireRole('pi'), async (req, res) => {
    const q = refreshQuery.parse(req.query);
    const now = Date.now();
    const rows = await visibleForReview(d.repos, req.identity!, q.ids);
    res.json({ items: rows.map(({ image, frames }) => ({ id: image.id, ...mediaView(image, frames, d.signer, now) })) });
  });

  r.get('/collections/:id/why', requireRole('pi'), async (req, res) => {
    res.json(await collectionWhy(d.repos, req.identity!, uuid.parse(req.params.id), new Date()));
  });

  r.post('/review/decisions', requireRole('reviewer'), async (req, res) => {
    const b = decisionBody.parse(req.body);
    res.json({ results: await decideAndRelease(req.identity!, [...new Set(b.imageIds)], b.action, b.reason ?? null, b.publishNow) });
  });

  r.post('/review/publish-now', requireRole('admin'), async (req, res) => {
    const b = publishNowBody.parse(req.body);
    res.json({ results: await decideAndRelease(req.identity!, [...new Set(b.imageIds)], 'publish_now', b.reason) });
  });

  /** Decides, then queues approved images to publish when their delay ends (Undo until then). */
  async function decideAndRelease(who: Identity, ids: string[], action: DecisionAction, reason: string | null, publishNow?: boolean) {
    const now = new Date();
    const results = await decide(d.repos, who, ids, action, reason, { now, publishDelaySeconds: d.publishDelaySeconds, publishNow });
    const due = new Map<string, number>();
    for (const r of results) if (r.ok && r.state === 'approved' && r.publishAfter) due.set(r.imageId, Math.max(0, Date.parse(r.publishAfter) - now.getTime()));
    // The decisions are committed; if queueing fails the sweep releases them when due.
    for (const [cid, cids] of await d.repos.images.byCollection([...due.keys()])) {
      const delayMs = Math.max(...cids.map((id) => due.get(id) ?? 0));
      await d.release(cid, cids, { delayMs }).catch((e: Error) => d.log.warn({ collectionId: cid, err: e.message }, 'could not queue the release; the sweep will'));
    }
    return results;
  }

  r.put('/collections/:id/webhook', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can set the webhook');
    const { url } = z
      .object({ url: z.string().url().max(2000) })
      .strict()
      .parse(req.body);
    res.json(await setWebhook(d.repos, req.identity!, c, url, { allowHttp: d.allowHttpWebhooks, allowedHosts: d.webhookAllowedHosts ?? [] }));
  });

  r.delete('/collections/:id/webhook', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can remove the webhook');
    await removeWebhook(d.repos, req.identity!, c);
    res.status(204).end();
  });

  r.get('/collections/:id/events', requireRole('pi'), async (req, res) => {
    const c = await visible(String(req.params.id), req.identity!);
    const rows = await d.repos.events.list(c.id, { limit: 200 });
    res.json({ items: rows.map((e) => ({ id: String(e.id), kind: e.kind, at: e.created_at, data: e.payload, deliveredAt: e.delivered_at, deliveryAttempts: e.delivery_attempts, deliveryError: e.delivery_error })) });
  });

  r.get('/collections/:id/uploads', requireRole('pi'), async (req, res) => {
    const c = await visible(String(req.params.id), req.identity!);
    const uploading = d.uploading && !!c.zooniverse_project_id;
    const { batches, ...totals } = await d.releaseProgress(c.id, { uploading });
    // `uploading`: whether anything goes to Zooniverse at all (a project, and credentials on this bridge); without it batches stop at their manifests and the export is the way out.
    res.json({ ...totals, uploading, zooniverseProjectId: c.zooniverse_project_id, items: batches });
  });

  r.get('/images/:id/audit', requireRole('pi'), async (req, res) => {
    const img = await visibleImage(d.repos, req.identity!, uuid.parse(req.params.id));
    const q = auditQuery.parse(req.query);
    res.json({ items: await auditViews(d.repos, await d.repos.audit.list({ entityId: img.id, before: q.before, limit: q.limit })) });
  });

  r.get('/collections/:id/audit', requireRole('pi'), async (req, res) => {
    const c = await visible(String(req.params.id), req.identity!);
    const q = auditQuery.parse(req.query);
    res.json({ items: await auditViews(d.repos, await d.repos.audit.list({ collectionId: c.id, before: q.before, limit: q.limit })) });
  });

  return r;
}

function imageView({ image: img, frames, lastDecision, canDecide, naming }: ReviewCard, signer: MediaSigner, now: number) {
  const media = mediaView(img, frames, signer, now);
  return {
    id: img.id,
    /** What a reviewer calls it: "object <id>" from the PI's table, or "tract … · patch … · stamp … · gri"; unique within the collection. */
    name: naming.name,
    objectId: naming.objectId,
    dataId: naming.dataId,
    collectionId: img.collection_id,
    collectionName: img.collection_name,
    owner: img.owner,
    batchId: img.batch_id,
    stampIndex: img.stamp_index,
    state: img.state,
    /** A reviewer's approval publishes at this time; Undo works until then. */
    publishAfter: img.state === 'approved' ? img.publish_after : null,
    verdict: img.verdict,
    verdictReasons: img.verdict_reasons,
    recheckReason: img.recheck_reason,
    matchedRules: img.verdict_rules,
    // Where the pixels come from, as the system knows it (never the PI's word).
    repository: img.repository,
    dataRelease: img.data_release,
    releaseSource: img.release_source,
    datasetType: img.dataset_type,
    observedAt: img.observed_at,
    stripCoordinates: img.strip_coordinates,
    policyVersion: img.policy_ref,
    error: img.error,
    ra: img.ra,
    dec: img.dec,
    wcsQuality: img.wcs_quality,
    bands: img.bands,
    // What the stored PNG was rendered with; null for a row that did not record it (never a guess).
    preset: typeof (img.colour as { preset?: unknown } | null)?.preset === 'string' ? (img.colour as { preset: string }).preset : null,
    width: img.width,
    height: img.height,
    previewUrl: media.previewUrl,
    frames: media.frames,
    /** When previewUrl and the frames' URLs stop working (GET /review/images/refresh renews them). */
    previewExpiresAt: media.previewExpiresAt,
    canDecide,
    lastDecision,
  };
}
