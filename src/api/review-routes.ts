import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { Collection, Image, ImageFrame } from '../db/schema.js';
import { getCollection } from '../db/repositories/collections.js';
import { listAudit } from '../db/repositories/audit.js';
import { listBatches } from '../db/repositories/batches.js';
import { decide } from '../domain/review.js';
import { releaseProgress } from '../domain/release.js';
import { framesByImage } from '../db/repositories/frames.js';
import { newWebhookSecret } from '../domain/notify.js';
import { ForbiddenError, NotFoundError } from '../domain/errors.js';
import { requireRole, type Identity } from './auth.js';
import type { MediaSigner } from './media.js';
import type { Logger } from '../domain/ports.js';

export interface ReviewRoutesDeps {
  db: Db;
  repos: Repositories;
  signer: MediaSigner;
  /** Starts publishing what was just approved (the release flow). */
  release: (collectionId: string, imageIds: string[]) => Promise<unknown>;
  log: Logger;
  /** Dev and tests: webhooks on plain http (e.g. a local receiver). */
  allowHttpWebhooks: boolean;
  /** Zooniverse credentials are configured: manifested batches are on their way, not resting. */
  uploading: boolean;
}

const uuid = z.string().uuid();

/** Owners see their collections; reviewers and admins see all. */
export function canSee(who: Identity, c: Pick<Collection, 'owner'>): boolean {
  return c.owner === who.username || who.roles.includes('reviewer') || who.roles.includes('admin');
}

const listQuery = z.object({
  collection: uuid.optional(),
  batch: uuid.optional(),
  verdict: z.enum(['pending_review', 'auto_approved', 'rejected']).optional(),
  state: z.enum(['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z
    .string()
    .regex(/^\d{1,9}$/)
    .optional(),
});

const decisionBody = z
  .object({
    imageIds: z.array(uuid).min(1).max(500),
    action: z.enum(['approve', 'reject', 'undo']),
    reason: z.string().trim().max(2000).optional(),
  })
  .strict();

const auditQuery = z.object({ before: z.string().regex(/^\d{1,18}$/).optional(), limit: z.coerce.number().int().min(1).max(500).default(200) });

function auditView(a: { id: string; at: Date; actor: string; action: string; entity_id: string; reason: string | null; policy_ref: string | null; detail: unknown }) {
  return { id: String(a.id), at: a.at, actor: a.actor, action: a.action, imageId: a.entity_id, reason: a.reason, policyVersion: a.policy_ref, detail: a.detail };
}

export function reviewRoutes(d: ReviewRoutesDeps): Router {
  const r = Router();

  const visibleCollection = async (id: string, who: Identity) => {
    const c = await getCollection(d.db, uuid.parse(id));
    if (!canSee(who, c)) throw new ForbiddenError('not your collection');
    return c;
  };

  r.get('/review/batches', requireRole('pi'), async (req, res) => {
    const q = z.object({ collection: uuid }).parse(req.query);
    const c = await visibleCollection(q.collection, req.identity!);
    const rows = await listBatches(d.db, c.id);
    res.json({ items: rows.map((b) => ({ id: b.id, collectionId: b.collection_id, seq: b.seq, createdAt: b.created_at, counts: { pending: b.pending, approved: b.approved, rejected: b.rejected, total: b.total } })) });
  });

  r.get('/review/images', requireRole('pi'), async (req, res) => {
    const q = listQuery.parse(req.query);
    const who = req.identity!;
    const everyone = who.roles.includes('reviewer') || who.roles.includes('admin');
    if (q.collection) await visibleCollection(q.collection, who);
    let query = d.db
      .selectFrom('images')
      .innerJoin('collections', 'collections.id', 'images.collection_id')
      .selectAll('images')
      .select(['collections.name as collection_name', 'collections.owner as owner'])
      .orderBy('images.created_at')
      .orderBy('images.group_key')
      .orderBy('images.stamp_index')
      .orderBy('images.id')
      .offset(Number(q.after ?? 0))
      .limit(q.limit + 1);
    if (!everyone) query = query.where('collections.owner', '=', who.username);
    if (q.collection) query = query.where('images.collection_id', '=', q.collection);
    if (q.batch) query = query.where('images.batch_id', '=', q.batch);
    if (q.verdict) query = query.where('images.verdict', '=', q.verdict);
    if (q.state) query = query.where('images.state', '=', q.state);
    const rows = await query.execute();
    const page = rows.slice(0, q.limit);
    const last = await lastDecisions(d.db, page.map((i) => i.id));
    const frames = await framesByImage(d.db, page.map((i) => i.id));
    res.json({
      items: page.map((img) => imageView(img, who, d.signer, last.get(img.id) ?? null, frames.get(img.id) ?? [])),
      next: rows.length > q.limit ? String(Number(q.after ?? 0) + q.limit) : null,
    });
  });

  r.post('/review/decisions', requireRole('reviewer'), async (req, res) => {
    const b = decisionBody.parse(req.body);
    const results = await decide(d.repos, req.identity!, [...new Set(b.imageIds)], b.action, b.reason ?? null);
    const approved = results.filter((r) => r.ok && r.state === 'approved').map((r) => r.imageId);
    if (approved.length) {
      const rows = await d.db.selectFrom('images').select(['id', 'collection_id']).where('id', 'in', approved).execute();
      const byCollection = new Map<string, string[]>();
      for (const r of rows) byCollection.set(r.collection_id, [...(byCollection.get(r.collection_id) ?? []), r.id]);
      // The decisions are committed; if queueing fails the sweep releases them later.
      for (const [cid, ids] of byCollection) await d.release(cid, ids).catch((e: Error) => d.log.warn({ collectionId: cid, err: e.message }, 'could not queue the release; the sweep will'));
    }
    res.json({ results });
  });

  r.put('/collections/:id/webhook', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(String(req.params.id), req.identity!);
    if (c.owner !== req.identity!.username && !req.identity!.roles.includes('admin')) throw new ForbiddenError('only the owner or an admin can set the webhook');
    const { url } = z
      .object({ url: z.string().url().max(2000).refine((u) => d.allowHttpWebhooks || u.startsWith('https://'), 'must be an https:// URL') })
      .strict()
      .parse(req.body);
    const secret = newWebhookSecret();
    await d.db.updateTable('collections').set({ webhook_url: url, webhook_secret: secret, updated_at: new Date() }).where('id', '=', c.id).execute();
    // The secret is shown this once; it signs every delivery (X-Bridge-Signature: sha256=HMAC(secret, body)).
    res.json({ url, secret });
  });

  r.delete('/collections/:id/webhook', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(String(req.params.id), req.identity!);
    if (c.owner !== req.identity!.username && !req.identity!.roles.includes('admin')) throw new ForbiddenError('only the owner or an admin can remove the webhook');
    await d.db.updateTable('collections').set({ webhook_url: null, webhook_secret: null, updated_at: new Date() }).where('id', '=', c.id).execute();
    res.status(204).end();
  });

  r.get('/collections/:id/events', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(String(req.params.id), req.identity!);
    const rows = await d.db.selectFrom('events').selectAll().where('collection_id', '=', c.id).orderBy('id', 'desc').limit(200).execute();
    res.json({ items: rows.map((e) => ({ id: String(e.id), kind: e.kind, at: e.created_at, data: e.payload, deliveredAt: e.delivered_at, deliveryAttempts: e.delivery_attempts, deliveryError: e.delivery_error })) });
  });

  r.get('/collections/:id/uploads', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(String(req.params.id), req.identity!);
    const { batches, ...totals } = await releaseProgress(d.repos, c.id, { uploading: d.uploading && !!c.zooniverse_project_id });
    res.json({ ...totals, items: batches });
  });

  r.get('/images/:id/audit', requireRole('pi'), async (req, res) => {
    const id = uuid.parse(req.params.id);
    const img = await d.db.selectFrom('images').select(['collection_id']).where('id', '=', id).executeTakeFirst();
    if (!img) throw new NotFoundError(`image ${id} not found`);
    await visibleCollection(img.collection_id, req.identity!);
    const q = auditQuery.parse(req.query);
    res.json({ items: (await listAudit(d.db, { entityId: id, before: q.before, limit: q.limit })).map(auditView) });
  });

  r.get('/collections/:id/audit', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(String(req.params.id), req.identity!);
    const q = auditQuery.parse(req.query);
    res.json({ items: (await listAudit(d.db, { collectionId: c.id, before: q.before, limit: q.limit })).map(auditView) });
  });

  return r;
}

type ImageRow = Image & { collection_name: string; owner: string };

function imageView(img: ImageRow, who: Identity, signer: MediaSigner, last: { action: string; actor: string; at: Date; reason: string | null } | null, frames: ImageFrame[]) {
  const decidable = img.state === 'quarantined' || img.state === 'approved' || img.state === 'rejected';
  return {
    id: img.id,
    collectionId: img.collection_id,
    collectionName: img.collection_name,
    owner: img.owner,
    batchId: img.batch_id,
    stampIndex: img.stamp_index,
    state: img.state,
    verdict: img.verdict,
    verdictReasons: img.verdict_reasons,
    matchedRules: img.verdict_rules,
    stripCoordinates: img.strip_coordinates,
    policyVersion: img.policy_ref,
    error: img.error,
    ra: img.ra,
    dec: img.dec,
    wcsQuality: img.wcs_quality,
    bands: img.bands,
    preset: String((img.colour as { preset?: unknown }).preset ?? 'auto'),
    width: img.width,
    height: img.height,
    previewUrl: img.quarantine_key ? signer.sign(img.quarantine_key) : null,
    // Reviewers approve the whole subject: the per-band frames volunteers will flip through too.
    frames: frames.map((f) => ({ band: f.band, previewUrl: signer.sign(f.quarantine_key) })),
    // Separation of duties: nobody decides on their own collection's images.
    canDecide: decidable && who.roles.includes('reviewer') && img.owner !== who.username,
    lastDecision: last,
  };
}

async function lastDecisions(db: Db, ids: string[]): Promise<Map<string, { action: string; actor: string; at: Date; reason: string | null }>> {
  if (!ids.length) return new Map();
  const rows = await sql<{ entity_id: string; action: string; actor: string; at: Date; reason: string | null }>`
    select distinct on (entity_id) entity_id, action, actor, at, reason from audit_log
    where entity_id in (${sql.join(ids)}) and action in ('approve', 'reject', 'undo', 'policy_rejected', 'policy_auto_approved', 'policy_pending_review')
    order by entity_id, id desc`.execute(db);
  return new Map(rows.rows.map((r) => [r.entity_id, { action: r.action, actor: r.actor, at: r.at, reason: r.reason }]));
}
