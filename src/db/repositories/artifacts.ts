import { sql } from 'kysely';
import type { Artifact, ArtifactState } from '../schema.js';
import type { DatasetRef } from '../../domain/ports/butler-source.js';
import type { ArtifactsRepository } from '../../domain/ports/artifacts-repository.js';
import type { Page } from '../../domain/ports/repositories.js';
import { NotFoundError } from '../../domain/errors.js';
import { transition, type Tx } from './transitions.js';

/** dataId without band, keys sorted: the bands of one group share it. */
export function groupKeyOf(dataId: Record<string, string | number>): string {
  const rest = Object.keys(dataId)
    .filter((k) => k !== 'band')
    .sort()
    .map((k) => [k, dataId[k]]);
  return JSON.stringify(Object.fromEntries(rest));
}

/** Inserts the refs not seen before; returns only the new rows (a dataset polled twice is one artifact). */
export async function insertDiscovered(db: Tx, collectionId: string, refs: DatasetRef[], actor: string): Promise<Artifact[]> {
  if (!refs.length) return [];
  const rows = await db
    .insertInto('artifacts')
    .values(
      refs.map((r) => ({
        collection_id: collectionId,
        dataset_id: r.id,
        dataset_type: r.datasetType,
        run: r.run,
        data_id: JSON.stringify(r.dataId),
        band: typeof r.dataId.band === 'string' ? r.dataId.band : null,
        group_key: groupKeyOf(r.dataId),
        cursor: r.cursor,
        path: null,
        size: null,
        sha256: null,
        object_key: null,
        state: 'discovered' as const,
        error: null,
      })),
    )
    .onConflict((oc) => oc.columns(['collection_id', 'dataset_id']).doNothing())
    .returningAll()
    .execute();
  if (rows.length) {
    await db
      .insertInto('transitions')
      .values(rows.map((r) => ({ entity: 'artifact' as const, entity_id: r.id, from_state: null, to_state: 'discovered', actor, reason: null })))
      .execute();
  }
  return rows;
}

/**
 * The poll's bulk path: records the refs not seen before, each with its
 * `discovered` transition, in the batch `batchId()` names (asked for only
 * when something is new). Returns the new artifacts' ids. Whatever the
 * number of refs, this is one read (which are known) and one statement
 * writing the artifacts and their transitions together: the rows travel as
 * one array per column and `unnest` turns them back into rows, on Postgres
 * and PGlite alike, so neither the bind-parameter cap nor per-row SQL text
 * limits a chunk. ON CONFLICT keeps a dataset polled twice (or listed twice,
 * or inserted by a concurrent poll since the read) one artifact.
 */
export async function recordDiscovered(db: Tx, collectionId: string, refs: DatasetRef[], actor: string, batchId: () => Promise<string>, o: { noneKnown?: boolean } = {}): Promise<string[]> {
  if (!refs.length) return [];
  // On a first poll nothing is known yet: the read would cost a tenth of the chunk's time to find nothing.
  const known = o.noneKnown ? { rows: [] } : await sql<{ dataset_id: string }>`
    select dataset_id from artifacts where collection_id = ${collectionId} and dataset_id = any(${refs.map((r) => r.id)}::text[])`.execute(db);
  const seen = new Set(known.rows.map((r) => r.dataset_id));
  const fresh: DatasetRef[] = [];
  for (const r of refs) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    fresh.push(r);
  }
  if (!fresh.length) return [];
  const batch = await batchId();
  const col = <T>(f: (r: DatasetRef) => T) => fresh.map(f);
  const rows = await sql<{ id: string }>`
    with ins as (
      insert into artifacts (collection_id, dataset_id, dataset_type, run, data_id, band, group_key, cursor, batch_id, state)
      select ${collectionId}::uuid, u.dataset_id, u.dataset_type, u.run, u.data_id::jsonb, u.band, u.group_key, u.cursor, ${batch}::uuid, 'discovered'
      from unnest(
        ${col((r) => r.id)}::text[], ${col((r) => r.datasetType)}::text[], ${col((r) => r.run)}::text[], ${col((r) => JSON.stringify(r.dataId))}::text[],
        ${col((r) => (typeof r.dataId.band === 'string' ? r.dataId.band : null))}::text[], ${col((r) => groupKeyOf(r.dataId))}::text[], ${col((r) => r.cursor)}::text[]
      ) as u(dataset_id, dataset_type, run, data_id, band, group_key, cursor)
      on conflict (collection_id, dataset_id) do nothing
      returning id
    ), logged as (
      insert into transitions (entity, entity_id, from_state, to_state, actor, reason)
      select 'artifact', id, null, 'discovered', ${actor}, null from ins
    )
    select id from ins`.execute(db);
  return rows.rows.map((r) => r.id);
}

export async function getArtifact(db: Tx, id: string): Promise<Artifact> {
  const row = await db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`artifact ${id} not found`);
  return row;
}

export async function findArtifact(db: Tx, id: string): Promise<Artifact | undefined> {
  return db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function markRetrieved(db: Tx, a: Artifact, v: { path: string; size: number; sha256: string; objectKey: string }, actor: string): Promise<boolean> {
  return transition(db, 'artifact', a.id, 'discovered', 'retrieved', actor, { path: v.path, size: v.size, sha256: v.sha256, object_key: v.objectKey, error: null });
}

export async function markFailed(db: Tx, a: Artifact, error: string, actor: string): Promise<boolean> {
  if (a.state === 'failed' || a.state === 'converted') return false;
  return transition(db, 'artifact', a.id, a.state, 'failed', actor, { error }, error);
}

export async function bumpAttempts(db: Tx, id: string): Promise<void> {
  await db.updateTable('artifacts').set({ attempts: sql`attempts + 1` }).where('id', '=', id).execute();
}

export async function groupArtifacts(db: Tx, collectionId: string, groupKey: string): Promise<Artifact[]> {
  return db.selectFrom('artifacts').selectAll().where('collection_id', '=', collectionId).where('group_key', '=', groupKey).orderBy('band').execute();
}

export type { Page };

export async function listArtifacts(db: Tx, collectionId: string, f: { state?: ArtifactState; after?: string; limit: number }): Promise<Page<Artifact>> {
  let q = db.selectFrom('artifacts').selectAll().where('collection_id', '=', collectionId).orderBy('id').limit(f.limit + 1);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.after) q = q.where('id', '>', f.after);
  const rows = await q.execute();
  return { items: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1].id : null };
}

/** Work whose job may have been lost: discovered artifacts, and groups with every band retrieved. */
export async function sweepCandidates(db: Tx, olderThan: Date, limit: number): Promise<{ discovered: string[]; groups: { collectionId: string; groupKey: string }[]; unevaluated: string[] }> {
  const discovered = await db
    .selectFrom('artifacts')
    .innerJoin('collections', 'collections.id', 'artifacts.collection_id')
    .select('artifacts.id')
    .where('artifacts.state', '=', 'discovered')
    .where('collections.status', '=', 'active')
    .where('artifacts.updated_at', '<', olderThan)
    .limit(limit)
    .execute();
  const groups = await db
    .selectFrom('artifacts')
    .select(['collection_id', 'group_key'])
    .where('state', '=', 'retrieved')
    .where('updated_at', '<', olderThan)
    .groupBy(['collection_id', 'group_key'])
    .limit(limit)
    .execute();
  // Images converted but never given a policy verdict (their evaluate job was lost).
  const unevaluated = await db
    .selectFrom('images')
    .select('collection_id')
    .distinct()
    .where('state', '=', 'quarantined')
    .where('verdict', 'is', null)
    .where('error', 'is', null)
    .where('created_at', '<', olderThan)
    .limit(limit)
    .execute();
  return { discovered: discovered.map((r) => r.id), groups: groups.map((g) => ({ collectionId: g.collection_id, groupKey: g.group_key })), unevaluated: unevaluated.map((r) => r.collection_id) };
}

export function artifactsRepository(db: Tx): ArtifactsRepository {
  return {
    insertDiscovered: (collectionId, refs, actor) => insertDiscovered(db, collectionId, refs, actor),
    recordDiscovered: (collectionId, refs, actor, batchId, o) => recordDiscovered(db, collectionId, refs, actor, batchId, o),
    anyOf: async (collectionId) => !!(await db.selectFrom('artifacts').select('id').where('collection_id', '=', collectionId).limit(1).executeTakeFirst()),
    get: (id) => getArtifact(db, id),
    failedOf: (collectionId) => db.selectFrom('artifacts').selectAll().where('collection_id', '=', collectionId).where('state', '=', 'failed').orderBy('created_at').orderBy('id').execute(),
    find: (id) => findArtifact(db, id),
    markRetrieved: (a, v, actor) => markRetrieved(db, a, v, actor),
    markFailed: (a, error, actor) => markFailed(db, a, error, actor),
    transition: (id, from, to, actor, changes, reason) => transition(db, 'artifact', id, from, to, actor, changes ?? {}, reason ?? null),
    bumpAttempts: (id) => bumpAttempts(db, id),
    group: (collectionId, groupKey) => groupArtifacts(db, collectionId, groupKey),
    list: (collectionId, f) => listArtifacts(db, collectionId, f),
    sweepCandidates: (olderThan, limit) => sweepCandidates(db, olderThan, limit),
    // The query stays in subject-metadata.ts while manifest writing still calls it with a database handle.
    async objectKeys(collectionId) {
      const rows = await db.selectFrom('artifacts').select('object_key').where('collection_id', '=', collectionId).where('object_key', 'is not', null).execute();
      return rows.map((r) => r.object_key!);
    },
  };
}
