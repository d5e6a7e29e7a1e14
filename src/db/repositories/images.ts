import type { Image, ImageState } from '../schema.js';
import { sql, type ExpressionBuilder } from 'kysely';
import { POLICY_ERROR_PREFIX } from '../../domain/model.js';
import type { Database } from '../schema.js';
import type { Page } from './artifacts.js';
import type { ImageChanges, ImagesRepository, NewImage } from '../../domain/ports/images-repository.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { framesByImage, framesOf, insertFrames } from './frames.js';
import { datasetIdsByImage, linkDatasets } from './image-datasets.js';
import { transition } from './transitions.js';
import { recordVerdicts } from './image-verdicts.js';
import { outcomeGroups, ownersOf, reviewIds } from './review-queries.js';
import type { Tx } from './transitions.js';

export type { NewImage };

/**
 * One image per (collection, group, stamp): converting a group twice adds
 * nothing. All of a group's images go in one statement (and their
 * transitions in another), which is what keeps a 100-stamp group from
 * costing 200 round trips. Returns the rows actually inserted.
 */
export async function insertImages(db: Tx, images: NewImage[], actor: string): Promise<Image[]> {
  if (!images.length) return [];
  const out: Image[] = [];
  // Postgres caps bind parameters at 65535; 15 columns x 1000 rows stays well under.
  for (let i = 0; i < images.length; i += 1000) {
    const rows = await db
      .insertInto('images')
      .values(
        images.slice(i, i + 1000).map((m) => ({
          collection_id: m.collectionId,
          group_key: m.groupKey,
          stamp_index: m.stampIndex,
          state: m.state,
          ra: m.ra,
          dec: m.dec,
          wcs_quality: m.wcsQuality,
          width: m.width,
          height: m.height,
          bytes: m.bytes,
          sha256: m.sha256,
          quarantine_key: m.quarantineKey,
          bands: JSON.stringify(m.bands),
          colour: JSON.stringify(m.colour),
          error: m.error,
          batch_id: m.batchId ?? null,
          observed_at: m.observedAt ?? null,
          source_object_id: m.objectId ?? null,
        })),
      )
      .onConflict((oc) => oc.columns(['collection_id', 'group_key', 'stamp_index']).doNothing())
      .returningAll()
      .execute();
    if (rows.length) await db.insertInto('transitions').values(rows.map((r) => ({ entity: 'image' as const, entity_id: r.id, from_state: null, to_state: r.state, actor, reason: r.error }))).execute();
    out.push(...rows);
  }
  return out;
}

export async function listImages(db: Tx, collectionId: string, f: { state?: ImageState; after?: string; limit: number }): Promise<Page<Image>> {
  let q = db.selectFrom('images').selectAll().where('collection_id', '=', collectionId).orderBy('id').limit(f.limit + 1);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.after) q = q.where('id', '>', f.after);
  const rows = await q.execute();
  return { items: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1].id : null };
}

/** Images of the review pipeline that count as admitted: approved, or on their way out. */
const ADMITTED = ['approved', 'published', 'uploaded'] as const;
/** States in which an image still needs (or serves) its public objects. */
const USING_PUBLIC = ['approved', 'published', 'uploaded'] as const;

/**
 * Images on which the policy's verdict (or its failure to give one) stands
 * and nothing is public yet: what a changed fact may change. A reviewer's
 * decision in force (`reviewed_by`) is never reopened.
 */
function policyStands(eb: ExpressionBuilder<Database, 'images'>) {
  return eb.and([
    eb('images.reviewed_by', 'is', null),
    eb.or([
      eb.and([eb('images.state', 'in', ['quarantined', 'rejected', 'approved']), eb('images.verdict', 'is not', null)]),
      eb.and([eb('images.state', '=', 'quarantined'), eb('images.verdict', 'is', null), eb('images.error', 'like', `${POLICY_ERROR_PREFIX}%`)]),
    ]),
  ]);
}

/** JSON columns are stored as text; everything else as it is. */
function columns(c: ImageChanges): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  if (c.verdict_reasons) out.verdict_reasons = JSON.stringify(c.verdict_reasons);
  if (c.verdict_rules) out.verdict_rules = JSON.stringify(c.verdict_rules);
  return out;
}

export function imagesRepository(db: Tx): ImagesRepository {
  return {
    insert: (images, actor) => insertImages(db, images, actor),
    insertFrames: (frames) => insertFrames(db, frames),
    linkDatasets: (links) => linkDatasets(db, links),
    datasetIds: (imageIds) => datasetIdsByImage(db, imageIds),
    async sourceObjectIds(imageIds) {
      if (!imageIds.length) return new Map();
      const rows = await db.selectFrom('images').select(['id', 'source_object_id']).where('id', 'in', imageIds).where('source_object_id', 'is not', null).execute();
      return new Map(rows.map((r) => [r.id, r.source_object_id!]));
    },
    find: (id) => db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst(),
    async findMany(ids) {
      const out = [];
      for (let i = 0; i < ids.length; i += 1000) out.push(...(await db.selectFrom('images').selectAll().where('id', 'in', ids.slice(i, i + 1000)).execute()));
      return out;
    },
    async lock(id) {
      const img = await db.selectFrom('images').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!img) throw new NotFoundError(`image ${id} not found`);
      return img;
    },
    list: (collectionId, f) => listImages(db, collectionId, f),
    async update(id, changes) {
      await db.updateTable('images').set({ ...columns(changes), updated_at: new Date() }).where('id', '=', id).execute();
    },
    transition: (id, from, to, actor, changes, reason) => transition(db, 'image', id, from, to, actor, columns(changes ?? {}), reason ?? null),
    recordVerdicts: (verdicts, actor) => recordVerdicts(db, verdicts, actor),

    awaitingVerdict: (collectionId, limit) =>
      db
        .selectFrom('images')
        .selectAll()
        .where('collection_id', '=', collectionId)
        .where('state', '=', 'quarantined')
        .where('verdict', 'is', null)
        .where('error', 'is', null)
        .orderBy('batch_id')
        .orderBy('group_key')
        .orderBy('stamp_index')
        .limit(limit)
        .execute(),
    batchReviewCounts(collectionId, batchId) {
      let q = db
        .selectFrom('images')
        .select([sql<number>`count(*)::int`.as('total'), sql<number>`count(*) filter (where verdict is not null)::int`.as('evaluated')])
        .where('collection_id', '=', collectionId)
        .where('state', '!=', 'failed');
      q = batchId === null ? q.where('batch_id', 'is', null) : q.where('batch_id', '=', batchId);
      return q.executeTakeFirstOrThrow();
    },
    async countAdmittedOutside(collectionId, batchId) {
      let q = db.selectFrom('images').select(sql<number>`count(*)::int`.as('n')).where('collection_id', '=', collectionId);
      q = batchId === null ? q.where('batch_id', 'is not', null) : q.where((eb) => eb.or([eb('batch_id', 'is', null), eb('batch_id', '!=', batchId)]));
      const r = await q.where((eb) => eb.or([eb('state', 'in', [...ADMITTED]), eb.and([eb('state', '=', 'quarantined'), eb('verdict', '=', 'pending_review')])])).executeTakeFirstOrThrow();
      return r.n;
    },
    async countJudgedSince(collectionId, since) {
      const r = await db
        .selectFrom('images')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('collection_id', '=', collectionId)
        .where('created_at', '>=', since)
        .where('verdict', 'is not', null)
        .executeTakeFirstOrThrow();
      return r.n;
    },

    reopenable(collectionId, f) {
      let q = db.selectFrom('images').selectAll().where('collection_id', '=', collectionId).where((eb) => policyStands(eb));
      const stale = f.staleDigest;
      if (stale !== undefined) q = q.where((eb) => eb.or([eb('policy_digest', 'is', null), eb('policy_digest', '!=', stale)]));
      return q.orderBy('id').limit(f.limit).execute();
    },
    async staleVerdictCollections(digest, limit) {
      const rows = await db
        .selectFrom('images')
        .select('collection_id')
        .distinct()
        .where('collection_id', 'in', (eb) => eb.selectFrom('collections').select('id').where('status', '!=', 'retired'))
        .where((eb) => policyStands(eb))
        .where((eb) => eb.or([eb('policy_digest', 'is', null), eb('policy_digest', '!=', digest)]))
        .limit(limit)
        .execute();
      return rows.map((r) => r.collection_id);
    },
    reviewerApprovedUnplanned: (collectionId) =>
      db
        .selectFrom('images')
        .selectAll()
        .where('collection_id', '=', collectionId)
        .where('reviewed_by', 'is not', null)
        .where('state', 'in', ['approved', 'published'])
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('upload_items').select('upload_items.id').whereRef('upload_items.image_id', '=', 'images.id'))))
        .orderBy('id')
        .execute(),

    approvedIdleSince: (olderThan, limit) =>
      // An image inside its publishing delay is not idle: its publish job is due at publish_after.
      db.selectFrom('images').select(['id', 'collection_id']).where('state', '=', 'approved').where(sql<Date>`coalesce(publish_after, updated_at)`, '<', olderThan).orderBy('collection_id').limit(limit).execute(),
    releaseCounts: (collectionId) =>
      db
        .selectFrom('images')
        .select([sql<number>`count(*) filter (where state = 'approved')::int`.as('approved'), sql<number>`count(*) filter (where state in ('published', 'uploaded') and public_key is not null)::int`.as('published')])
        .where('collection_id', '=', collectionId)
        .executeTakeFirstOrThrow(),
    async releasedIds(collectionId) {
      const rows = await db.selectFrom('images').select('id').where('collection_id', '=', collectionId).where('state', 'in', ['published', 'uploaded']).execute();
      return rows.map((r) => r.id);
    },

    frames: (imageId) => framesOf(db, imageId),
    framesByImage: (ids) => framesByImage(db, ids),
    async setPublicKeys(imageId, image, frames) {
      await db.updateTable('images').set({ public_key: image.key, public_sha256: image.sha256, updated_at: new Date() }).where('id', '=', imageId).execute();
      for (const f of frames) await db.updateTable('image_frames').set({ public_key: f.key, public_sha256: f.sha256 }).where('image_id', '=', imageId).where('band', '=', f.band).execute();
    },
    async clearPublicKeys(imageId) {
      await db.updateTable('images').set({ public_key: null, public_sha256: null, updated_at: new Date() }).where('id', '=', imageId).execute();
      await db.updateTable('image_frames').set({ public_key: null, public_sha256: null }).where('image_id', '=', imageId).execute();
    },
    async publicKeyInUse(key, exceptImageId) {
      // Two indexed lookups (image objects, frame objects) rather than one OR over a join, which no index serves.
      const other = await db
        .selectFrom('images')
        .select('images.id')
        .where('images.public_key', '=', key)
        .where('images.id', '!=', exceptImageId)
        .where('images.state', 'in', USING_PUBLIC)
        .unionAll(
          db
            .selectFrom('image_frames')
            .innerJoin('images', 'images.id', 'image_frames.image_id')
            .select('images.id')
            .where('image_frames.public_key', '=', key)
            .where('images.id', '!=', exceptImageId)
            .where('images.state', 'in', USING_PUBLIC),
        )
        .limit(1)
        .executeTakeFirst();
      return !!other;
    },
    async abandonedPublic(limit) {
      const rows = await db.selectFrom('images').select('id').where('public_key', 'is not', null).where('state', 'in', ['quarantined', 'rejected']).orderBy('id').limit(limit).execute();
      return rows.map((r) => r.id);
    },
    async quarantineKeys(collectionId) {
      const images = await db.selectFrom('images').select('quarantine_key as key').where('collection_id', '=', collectionId).where('quarantine_key', '!=', '').execute();
      const frames = await db.selectFrom('image_frames').innerJoin('images', 'images.id', 'image_frames.image_id').select('image_frames.quarantine_key as key').where('images.collection_id', '=', collectionId).execute();
      return [...images, ...frames].map((r) => r.key);
    },

    async listForReview(f) {
      let q = db
        .selectFrom('images')
        .innerJoin('collections', 'collections.id', 'images.collection_id')
        .selectAll('images')
        .select(['collections.name as collection_name', 'collections.owner as owner', 'collections.repository', 'collections.data_release', 'collections.release_source', 'collections.dataset_type', sql<string>`images.created_at::text`.as('created_text')])
        .orderBy('images.created_at')
        .orderBy('images.group_key')
        .orderBy('images.stamp_index')
        .orderBy('images.id')
        .limit(f.limit + 1);
      // Keyset paging: a deep page costs what the first does, and rows added meanwhile never shift a page.
      // The time travels as the database's own text, so its microseconds survive the round trip.
      if (f.after) {
        const k = decodeReviewCursor(f.after);
        q = q.where(sql<boolean>`(images.created_at, images.group_key, images.stamp_index, images.id) > (${k.at}::timestamptz, ${k.group}, ${k.stamp}, ${k.id}::uuid)`);
      }
      if (f.owner) q = q.where('collections.owner', '=', f.owner);
      if (f.collectionId) q = q.where('images.collection_id', '=', f.collectionId);
      if (f.batchId) q = q.where('images.batch_id', '=', f.batchId);
      if (f.verdict) q = q.where('images.verdict', '=', f.verdict);
      if (f.state) q = q.where('images.state', '=', f.state);
      const rows = await q.execute();
      const items = rows.slice(0, f.limit).map(({ created_text: _t, ...img }) => img);
      const last = rows[f.limit - 1];
      return { items, next: rows.length > f.limit && last ? encodeReviewCursor(last.created_text, last.group_key, last.stamp_index, last.id) : null };
    },
    async byCollection(imageIds) {
      const out = new Map<string, string[]>();
      for (let i = 0; i < imageIds.length; i += 1000) {
        const rows = await db.selectFrom('images').select(['id', 'collection_id']).where('id', 'in', imageIds.slice(i, i + 1000)).execute();
        for (const r of rows) {
          const ids = out.get(r.collection_id);
          if (ids) ids.push(r.id);
          else out.set(r.collection_id, [r.id]);
        }
      }
      return out;
    },
    exportable: (collectionId) =>
      db
        .selectFrom('images')
        .selectAll()
        .where('collection_id', '=', collectionId)
        .where('state', 'in', [...ADMITTED])
        .orderBy('batch_id')
        .orderBy('group_key')
        .orderBy('stamp_index')
        .orderBy('id')
        .execute(),
    async countJudgedOrFailed(collectionId) {
      const r = await db
        .selectFrom('images')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('collection_id', '=', collectionId)
        .where((eb) => eb.or([eb('verdict', 'is not', null), eb('state', '=', 'failed')]))
        .executeTakeFirstOrThrow();
      return r.n;
    },
    countByVerdict: (collectionId) => db.selectFrom('images').select(['verdict', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', collectionId).groupBy('verdict').orderBy('verdict').execute(),
    async firstWithVerdict(collectionId, verdict) {
      const row = await db.selectFrom('images').select('id').where('collection_id', '=', collectionId).where('verdict', '=', verdict).limit(1).executeTakeFirst();
      return row?.id;
    },
    reviewIds: (f, max) => reviewIds(db, f, max),
    ownersOf: (ids) => ownersOf(db, ids),
    outcomeGroups: (collectionId) => outcomeGroups(db, collectionId),
  };
}

function encodeReviewCursor(at: string, group: string, stamp: number, id: string): string {
  return Buffer.from(JSON.stringify([at, group, stamp, id])).toString('base64url');
}

/** A cursor this repository made; anything else is a client's mistake, named as such. */
function decodeReviewCursor(cursor: string): { at: string; group: string; stamp: number; id: string } {
  try {
    const [at, group, stamp, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$/.test(at) && typeof group === 'string' && Number.isInteger(stamp) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) return { at, group, stamp: stamp as number, id };
  } catch {
    // fall through
  }
  throw new ValidationError('after: not a cursor this API returned', { field: 'after' });
}
