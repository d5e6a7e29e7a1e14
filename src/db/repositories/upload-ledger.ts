import { sql } from 'kysely';
import { NotFoundError } from '../../domain/errors.js';
import type { UploadBatchState, UploadItemState } from '../../domain/model.js';
import type { ItemCounts, UploadLedgerRepository } from '../../domain/ports/upload-ledger-repository.js';
import type { Tx } from './transitions.js';

/** Batch states in which a batch is not finished: the sweep looks for these. */
const UNFINISHED: UploadBatchState[] = ['publishing', 'manifested', 'waiting', 'uploading', 'verifying'];

/** Rows per UPDATE ... FROM (VALUES ...): two parameters each, far below Postgres' bind limit. */
const CREATED_CHUNK = 500;
/** Ids per `in (...)` list. */
const ID_CHUNK = 1000;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export function uploadLedgerRepository(db: Tx): UploadLedgerRepository {
  const find = (id: string) => db.selectFrom('upload_batches').selectAll().where('id', '=', id).executeTakeFirst();
  const setItems = async (itemIds: string[], from: UploadItemState[], set: { state: UploadItemState; error?: string }) => {
    for (const part of chunks(itemIds, ID_CHUNK)) {
      await db
        .updateTable('upload_items')
        .set({ ...set, updated_at: new Date() })
        .where('id', 'in', part)
        .where('state', 'in', from)
        .execute();
    }
  };
  return {
    find,
    async get(id) {
      const b = await find(id);
      if (!b) throw new NotFoundError(`upload batch ${id} not found`);
      return b;
    },
    async lock(id) {
      const b = await db.selectFrom('upload_batches').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!b) throw new NotFoundError(`upload batch ${id} not found`);
      return b;
    },
    recentOf: (collectionId, limit) => db.selectFrom('upload_batches').selectAll().where('collection_id', '=', collectionId).orderBy('seq', 'desc').limit(limit).execute(),
    uploadableOf: (collectionId) =>
      db
        .selectFrom('upload_batches')
        .selectAll()
        .where('collection_id', '=', collectionId)
        .where('state', 'in', ['manifested', 'waiting', 'uploading', 'verifying'])
        .where('mode', '!=', 'export')
        .orderBy('seq')
        .execute(),
    async underWayOf(collectionId) {
      const rows = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', 'in', ['uploading', 'verifying']).execute();
      return rows.map((r) => r.id);
    },
    async unretractedOf(collectionId) {
      const rows = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', '!=', 'retracted').orderBy('seq').execute();
      return rows.map((r) => r.id);
    },
    async stalled(olderThan, limit) {
      const rows = await db
        .selectFrom('upload_batches')
        .innerJoin('collections', 'collections.id', 'upload_batches.collection_id')
        .select(['upload_batches.id', 'upload_batches.collection_id', 'upload_batches.state', 'upload_batches.updated_at', 'collections.zooniverse_project_id'])
        .where('upload_batches.state', 'in', UNFINISHED)
        .where('upload_batches.mode', '!=', 'export')
        .where('upload_batches.updated_at', '<', olderThan)
        // A long upload moves its ledger, not its batch row: recent ledger activity means it is alive.
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('upload_items').select('upload_items.id').whereRef('upload_items.upload_batch_id', '=', 'upload_batches.id').where('upload_items.updated_at', '>=', olderThan))))
        .orderBy('upload_batches.collection_id')
        .orderBy('upload_batches.seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ id: r.id, collectionId: r.collection_id, state: r.state, updatedAt: new Date(r.updated_at), hasProject: !!r.zooniverse_project_id }));
    },
    openSetsBefore: (collectionId, seq) =>
      db
        .selectFrom('upload_batches')
        .select(['id', 'seq', 'state', 'subject_set_id'])
        .where('collection_id', '=', collectionId)
        .where('seq', '<', seq)
        .where('mode', '!=', 'export')
        .where('state', 'not in', ['retracted'])
        .where('set_completed_at', 'is', null)
        .orderBy('seq')
        .execute(),
    async sharedSubjectSet(collectionId) {
      const r = await db.selectFrom('upload_batches').select('subject_set_id').where('collection_id', '=', collectionId).where('subject_set_id', 'is not', null).orderBy('seq').executeTakeFirst();
      return r?.subject_set_id ?? undefined;
    },
    async countLinkedInSet(subjectSetId) {
      const r = await db
        .selectFrom('upload_items as i')
        .innerJoin('upload_batches as b', 'b.id', 'i.upload_batch_id')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('b.subject_set_id', '=', subjectSetId)
        .where('i.state', '=', 'linked')
        .executeTakeFirstOrThrow();
      return r.n;
    },

    async setState(id, to, error) {
      await db
        .updateTable('upload_batches')
        .set({ state: to, ...(error !== undefined ? { error } : {}), updated_at: new Date() })
        .where('id', '=', id)
        .execute();
    },
    moveState: (id, from, to, error) =>
      db.updateTable('upload_batches').set({ state: to, error, updated_at: new Date() }).where('id', '=', id).where('state', 'in', from).returningAll().executeTakeFirst(),
    async noteError(id, states, error) {
      await db.updateTable('upload_batches').set({ error, updated_at: new Date() }).where('id', '=', id).where('state', 'in', states).execute();
    },
    async recordSubjectSet(id, subjectSetId) {
      await db.updateTable('upload_batches').set({ subject_set_id: subjectSetId, updated_at: new Date() }).where('id', '=', id).execute();
    },
    async recordImport(id, importId) {
      await db.updateTable('upload_batches').set({ import_id: importId, updated_at: new Date() }).where('id', '=', id).execute();
    },
    async setMode(id, mode) {
      await db.updateTable('upload_batches').set({ mode, updated_at: new Date() }).where('id', '=', id).where('mode', '!=', 'export').execute();
    },
    inStates: (collectionId, states) =>
      db.selectFrom('upload_batches').selectAll().where('collection_id', '=', collectionId).where('state', 'in', states).where('mode', '!=', 'export').orderBy('seq').execute(),
    async switchToApi(id) {
      await db.updateTable('upload_batches').set({ mode: 'api', updated_at: new Date() }).where('id', '=', id).where('mode', '=', 'import').execute();
    },
    async markSetCompleted(id) {
      await db.updateTable('upload_batches').set({ set_completed_at: new Date() }).where('id', '=', id).execute();
    },

    items: (batchId, states) =>
      db
        .selectFrom('upload_items')
        .select(['id', 'image_id', 'external_id', 'state', 'subject_id', 'attempts'])
        .where('upload_batch_id', '=', batchId)
        .where('state', 'in', states)
        .orderBy('external_id')
        .execute(),
    async count(batchId, states) {
      const r = await db
        .selectFrom('upload_items')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('upload_batch_id', '=', batchId)
        .where('state', 'in', states)
        .executeTakeFirstOrThrow();
      return r.n;
    },
    async countsOf(batchIds) {
      const out = new Map<string, ItemCounts>();
      if (!batchIds.length) return out;
      const rows = await db
        .selectFrom('upload_items')
        .select(['upload_batch_id', 'state', sql<number>`count(*)::int`.as('n')])
        .where('upload_batch_id', 'in', batchIds)
        .groupBy(['upload_batch_id', 'state'])
        .execute();
      for (const r of rows) out.set(r.upload_batch_id, { ...out.get(r.upload_batch_id), [r.state]: r.n });
      return out;
    },
    async failureReasons(batchId, limit) {
      const rows = await db
        .selectFrom('upload_items')
        .select(['error', sql<number>`count(*)::int`.as('n'), sql<string>`min(external_id)`.as('example')])
        .where('upload_batch_id', '=', batchId)
        .where('state', '=', 'failed')
        .groupBy('error')
        .orderBy('n', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ error: r.error, count: r.n, example: r.example }));
    },
    async imageIds(batchId) {
      const rows = await db.selectFrom('upload_items').select('image_id').where('upload_batch_id', '=', batchId).orderBy('image_id').execute();
      return rows.map((r) => r.image_id);
    },
    async holdsSubjects(batchId) {
      const r = await db.selectFrom('upload_items').select('id').where('upload_batch_id', '=', batchId).where('subject_id', 'is not', null).where('state', '!=', 'retracted').limit(1).executeTakeFirst();
      return !!r;
    },
    async subjectsOfImage(imageId) {
      const rows = await db
        .selectFrom('upload_items')
        .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
        .select(['upload_items.id', 'upload_items.state', 'upload_items.subject_id', 'upload_batches.subject_set_id'])
        .where('upload_items.image_id', '=', imageId)
        .where('upload_items.state', 'in', ['created', 'linked'])
        .execute();
      return rows.map((r) => ({ itemId: r.id, state: r.state, subjectId: r.subject_id, subjectSetId: r.subject_set_id }));
    },
    pacedByPolicy: (batchId) =>
      db
        .selectFrom('upload_items')
        .innerJoin('images', 'images.id', 'upload_items.image_id')
        .select('images.policy_ref as policyRef')
        .where('upload_items.upload_batch_id', '=', batchId)
        .where('images.one_incomplete_set', '=', true)
        .limit(1)
        .executeTakeFirst(),

    async reopenFailed(batchId) {
      await db.updateTable('upload_items').set({ state: 'intent', subject_id: null, error: null, updated_at: new Date() }).where('upload_batch_id', '=', batchId).where('state', '=', 'failed').execute();
    },
    async claim(itemId) {
      const r = await db
        .updateTable('upload_items')
        .set({ attempts: sql<number>`attempts + 1`, updated_at: new Date() })
        .where('id', '=', itemId)
        .where('state', '=', 'intent')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async claimAllIntent(batchId) {
      await db.updateTable('upload_items').set({ attempts: sql<number>`attempts + 1`, updated_at: new Date() }).where('upload_batch_id', '=', batchId).where('state', '=', 'intent').execute();
    },
    async recordCreated(subjects) {
      // One statement per group: a pass of creates is recorded in a few round trips, not one per subject.
      for (const part of chunks(subjects, CREATED_CHUNK)) {
        await sql`
          update upload_items as u
             set state = 'created', subject_id = v.sid, error = null, updated_at = ${new Date()}
            from (values ${sql.join(part.map((s) => sql`(${s.itemId}::uuid, ${s.subjectId}::text)`))}) as v(id, sid)
           where u.id = v.id and u.state = 'intent'`.execute(db);
      }
    },
    recordLinked: (itemIds) => setItems(itemIds, ['created'], { state: 'linked' }),
    recordUnlinked: (itemIds) => setItems(itemIds, ['linked'], { state: 'created' }),
    recordFailed: (itemIds, error) => setItems(itemIds, ['intent', 'created', 'linked'], { state: 'failed', error }),
    async recordSubject(itemId, subjectId) {
      await db.updateTable('upload_items').set({ subject_id: subjectId, updated_at: new Date() }).where('id', '=', itemId).execute();
    },
    async recordRetracted(itemIds) {
      for (const part of chunks(itemIds, ID_CHUNK)) await db.updateTable('upload_items').set({ state: 'retracted', updated_at: new Date() }).where('id', 'in', part).execute();
    },
    async retractAll(batchId) {
      await db.updateTable('upload_items').set({ state: 'retracted', updated_at: new Date() }).where('upload_batch_id', '=', batchId).where('state', '!=', 'retracted').execute();
    },
    async markImagesUploaded(batchId, actor, reason) {
      const images = await db
        .updateTable('images')
        .set({ state: 'uploaded', updated_at: new Date() })
        .where('state', '=', 'published')
        .where('id', 'in', db.selectFrom('upload_items').select('image_id').where('upload_batch_id', '=', batchId).where('state', '=', 'linked'))
        .returning('id')
        .execute();
      for (const part of chunks(images, ID_CHUNK)) {
        await db
          .insertInto('transitions')
          .values(part.map((r) => ({ entity: 'image' as const, entity_id: r.id, from_state: 'published', to_state: 'uploaded', actor, reason })))
          .execute();
      }
      return images.length;
    },
  };
}
