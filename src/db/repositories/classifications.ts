import { sql } from 'kysely';
import type { ClassificationCursor, ClassificationsRepository, NewClassification, StoredClassification } from '../../domain/ports/classifications-repository.js';
import type { Tx } from './transitions.js';

/*
 * Classifications, pull cursors and workflows (migration
 * 20261209090000_results). Bigint columns are selected as text: pg returns
 * int8 as a string, PGlite may not, and a classification id can pass 2^53.
 */

// Ordered by the qualified column (classifications.id), never the bare name: that would sort the text alias.
const CLASSIFICATION_COLUMNS = [
  sql<string>`id::text`.as('id'),
  'subject_id',
  sql<string>`seq::text`.as('seq'),
  'project_id',
  'workflow_id',
  'workflow_version',
  'collection_id',
  'image_id',
  'volunteer',
  'created_at',
  'annotations',
  'metadata',
  'gold_standard',
  'expert',
  'source',
] as const;

type Row = {
  id: string;
  subject_id: string;
  seq: string;
  project_id: string;
  workflow_id: string;
  workflow_version: string | null;
  collection_id: string;
  image_id: string;
  volunteer: string;
  created_at: Date;
  annotations: unknown;
  metadata: Record<string, unknown>;
  gold_standard: boolean | null;
  expert: boolean | null;
  source: 'pull' | 'export' | 'caesar';
};

function stored(r: Row): StoredClassification {
  return {
    id: r.id,
    subjectId: r.subject_id,
    seq: r.seq,
    projectId: r.project_id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    collectionId: r.collection_id,
    imageId: r.image_id,
    volunteer: r.volunteer,
    createdAt: new Date(r.created_at).toISOString(),
    annotations: (typeof r.annotations === 'string' ? JSON.parse(r.annotations) : r.annotations) as unknown[],
    metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata) as Record<string, unknown>,
    goldStandard: r.gold_standard,
    expert: r.expert,
    source: r.source,
  };
}

/** Rows per insert statement: 16 columns each keeps a statement well under Postgres' 65535 parameters. */
const INSERT_CHUNK = 1000;

export function classificationsRepository(db: Tx): ClassificationsRepository {
  const selectClassifications = () => db.selectFrom('classifications').select(CLASSIFICATION_COLUMNS);
  return {
    async cursor(projectId) {
      const r = await db
        .selectFrom('classification_cursors')
        .select([
          'project_id',
          sql<string | null>`last_id::text`.as('last_id'),
          'pulled_at',
          'last_error',
          sql<string>`kept::text`.as('kept'),
          sql<string>`ignored::text`.as('ignored'),
          'export_state',
          'export_requested_at',
          'export_next_possible_at',
          'export_loaded_updated_at',
          sql<string>`export_rows::text`.as('export_rows'),
          'export_error',
          'updated_at',
        ])
        .where('project_id', '=', projectId)
        .executeTakeFirst();
      if (!r) return undefined;
      const c: ClassificationCursor = {
        projectId: r.project_id,
        lastId: r.last_id,
        pulledAt: r.pulled_at,
        lastError: r.last_error,
        kept: Number(r.kept),
        ignored: Number(r.ignored),
        exportState: r.export_state,
        exportRequestedAt: r.export_requested_at,
        exportNextPossibleAt: r.export_next_possible_at,
        exportLoadedUpdatedAt: r.export_loaded_updated_at,
        exportRows: Number(r.export_rows),
        exportError: r.export_error,
        updatedAt: r.updated_at,
      };
      return c;
    },
    async ensureCursor(projectId) {
      await db.insertInto('classification_cursors').values({ project_id: projectId }).onConflict((oc) => oc.column('project_id').doNothing()).execute();
    },
    async insert(rows: NewClassification[]) {
      const ids = new Set<string>();
      const collections = new Set<string>();
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const part = rows.slice(i, i + INSERT_CHUNK);
        const done = await db
          .insertInto('classifications')
          .values(
            part.map((r) => ({
              id: r.id,
              subject_id: r.subjectId,
              project_id: r.projectId,
              workflow_id: r.workflowId,
              workflow_version: r.workflowVersion,
              collection_id: r.collectionId,
              image_id: r.imageId,
              volunteer: r.volunteer,
              created_at: r.createdAt,
              annotations: JSON.stringify(r.annotations),
              metadata: JSON.stringify(r.metadata),
              gold_standard: r.goldStandard,
              expert: r.expert,
              source: r.source,
            })),
          )
          .onConflict((oc) => oc.columns(['id', 'subject_id']).doNothing())
          .returning([sql<string>`id::text`.as('id'), 'collection_id'])
          .execute();
        for (const d of done) {
          ids.add(d.id);
          collections.add(d.collection_id);
        }
      }
      return { ids: [...ids], collections: [...collections] };
    },
    async flagFromExport(goldIds, expertIds) {
      let n = 0;
      if (goldIds.length) n += Number((await db.updateTable('classifications').set({ gold_standard: true }).where('id', 'in', goldIds).where(sql<boolean>`gold_standard is not true`).executeTakeFirst()).numUpdatedRows);
      if (expertIds.length) n += Number((await db.updateTable('classifications').set({ expert: true }).where('id', 'in', expertIds).where(sql<boolean>`expert is not true`).executeTakeFirst()).numUpdatedRows);
      return n;
    },
    async recordPage(projectId, p) {
      await db
        .updateTable('classification_cursors')
        .set((eb) => ({
          last_id: p.lastId,
          kept: sql`kept + ${p.kept}`,
          ignored: sql`ignored + ${p.ignored}`,
          pulled_at: p.at,
          last_error: null,
          updated_at: p.at,
        }))
        .where('project_id', '=', projectId)
        .execute();
    },
    async recordPulled(projectId, at) {
      await db.updateTable('classification_cursors').set({ pulled_at: at, last_error: null, updated_at: at }).where('project_id', '=', projectId).execute();
    },
    async recordPullError(projectId, error) {
      await db.updateTable('classification_cursors').set({ last_error: error, updated_at: new Date() }).where('project_id', '=', projectId).execute();
    },
    async addKept(projectId, kept) {
      if (kept === 0) return;
      await db.updateTable('classification_cursors').set({ kept: sql`kept + ${kept}`, updated_at: new Date() }).where('project_id', '=', projectId).execute();
    },
    async updateExport(projectId, p) {
      const set: Record<string, unknown> = { updated_at: new Date() };
      if (p.state !== undefined) set.export_state = p.state;
      if (p.requestedAt !== undefined) set.export_requested_at = p.requestedAt;
      if (p.nextPossibleAt !== undefined) set.export_next_possible_at = p.nextPossibleAt;
      if (p.loadedUpdatedAt !== undefined) set.export_loaded_updated_at = p.loadedUpdatedAt;
      if (p.rows !== undefined) set.export_rows = p.rows;
      if (p.error !== undefined) set.export_error = p.error;
      await db.updateTable('classification_cursors').set(set).where('project_id', '=', projectId).execute();
    },
    async bridgeSubjects(projectId, subjectIds) {
      if (subjectIds.length === 0) return [];
      const rows = await db
        .selectFrom('upload_items')
        .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
        .innerJoin('collections', 'collections.id', 'upload_batches.collection_id')
        .select(['upload_items.subject_id', 'upload_items.image_id', 'upload_batches.collection_id'])
        .where('collections.zooniverse_project_id', '=', projectId)
        .where('upload_items.subject_id', 'in', [...new Set(subjectIds)])
        .execute();
      return rows.map((r) => ({ subjectId: r.subject_id!, imageId: r.image_id, collectionId: r.collection_id }));
    },
    async bridgeImages(projectId, imageIds) {
      const uuids = [...new Set(imageIds)].filter((s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s));
      if (uuids.length === 0) return [];
      const rows = await db
        .selectFrom('images')
        .innerJoin('collections', 'collections.id', 'images.collection_id')
        .select(['images.id', 'images.collection_id'])
        .where('collections.zooniverse_project_id', '=', projectId)
        .where('images.id', 'in', uuids)
        .execute();
      return rows.map((r) => ({ imageId: r.id, collectionId: r.collection_id }));
    },
    async projectsToPull() {
      const rows = await db
        .selectFrom('collections')
        .select('collections.zooniverse_project_id')
        .distinct()
        .where('collections.zooniverse_project_id', 'is not', null)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('upload_items')
              .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
              .select(sql`1`.as('x'))
              .whereRef('upload_batches.collection_id', '=', 'collections.id')
              .where('upload_items.subject_id', 'is not', null),
          ),
        )
        .execute();
      return rows.map((r) => r.zooniverse_project_id!).sort();
    },
    async projectOfCollection(collectionId) {
      const r = await db.selectFrom('collections').select('zooniverse_project_id').where('id', '=', collectionId).executeTakeFirst();
      return r?.zooniverse_project_id ?? null;
    },
    async knownWorkflows(workflowIds) {
      if (workflowIds.length === 0) return [];
      const rows = await db.selectFrom('workflows').select('workflow_id').where('workflow_id', 'in', workflowIds).execute();
      return rows.map((r) => r.workflow_id);
    },
    async saveWorkflow(w) {
      const values = { workflow_id: w.workflowId, project_id: w.projectId, version: w.version, display_name: w.displayName, tasks: JSON.stringify(w.tasks) };
      await db
        .insertInto('workflows')
        .values(values)
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet({ project_id: values.project_id, version: values.version, display_name: values.display_name, tasks: values.tasks, fetched_at: new Date() }))
        .execute();
    },
    async workflows(workflowIds) {
      if (workflowIds.length === 0) return [];
      const rows = await db.selectFrom('workflows').selectAll().where('workflow_id', 'in', workflowIds).orderBy('workflow_id').execute();
      return rows.map((r) => ({ workflowId: r.workflow_id, projectId: r.project_id, version: r.version, displayName: r.display_name, tasks: (typeof r.tasks === 'string' ? JSON.parse(r.tasks) : r.tasks) as Record<string, unknown> }));
    },
    async workflowsOfCollection(collectionId) {
      const rows = await db.selectFrom('classifications').select('workflow_id').distinct().where('collection_id', '=', collectionId).execute();
      return rows.map((r) => r.workflow_id).sort();
    },
    async arrivals(collectionId, afterSeq, limit) {
      const rows = await selectClassifications().where('collection_id', '=', collectionId).where('seq', '>', afterSeq).orderBy('classifications.seq').limit(limit).execute();
      return rows.map((r) => stored(r as Row));
    },
    async lastSeq(collectionId) {
      const r = await db.selectFrom('classifications').select(sql<string | null>`max(seq)::text`.as('m')).where('collection_id', '=', collectionId).executeTakeFirst();
      return r?.m ?? '0';
    },
    async ofSubjects(collectionId, subjects) {
      if (subjects.length === 0) return [];
      const out: StoredClassification[] = [];
      const byWorkflow = new Map<string, string[]>();
      for (const s of subjects) byWorkflow.set(s.workflowId, [...(byWorkflow.get(s.workflowId) ?? []), s.subjectId]);
      for (const [workflowId, ids] of byWorkflow) {
        const rows = await selectClassifications()
          .where('collection_id', '=', collectionId)
          .where('workflow_id', '=', workflowId)
          .where('subject_id', 'in', ids)
          .orderBy('classifications.id')
          .orderBy('classifications.subject_id')
          .execute();
        out.push(...rows.map((r) => stored(r as Row)));
      }
      return out.sort((a, b) => cmpId(a.id, b.id) || (a.subjectId < b.subjectId ? -1 : a.subjectId > b.subjectId ? 1 : 0));
    },
    async inIdOrder(collectionId, after, throughSeq, limit) {
      let q = selectClassifications().where('collection_id', '=', collectionId).where('seq', '<=', throughSeq);
      if (after) q = q.where((eb) => eb.or([eb('id', '>', after.id), eb.and([eb('id', '=', after.id), eb('subject_id', '>', after.subjectId)])]));
      const rows = await q.orderBy('classifications.id').orderBy('classifications.subject_id').limit(limit).execute();
      return rows.map((r) => stored(r as Row));
    },
    async gold(collectionId) {
      const rows = await selectClassifications().where('collection_id', '=', collectionId).where('gold_standard', '=', true).orderBy('classifications.id').orderBy('classifications.subject_id').execute();
      return rows.map((r) => stored(r as Row));
    },
    async countByCollection(projectId) {
      const rows = await db
        .selectFrom('classifications')
        .select(['collection_id', sql<string>`count(*)::text`.as('n')])
        .where('project_id', '=', projectId)
        .groupBy('collection_id')
        .execute();
      return rows.map((r) => ({ collectionId: r.collection_id, classifications: Number(r.n) }));
    },
  };
}

function cmpId(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
