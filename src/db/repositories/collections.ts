import { sql } from 'kysely';
import type { Collection, CollectionStatus } from '../schema.js';
import type { CollectionChanges, CollectionsRepository, NewCollectionInput, StateCounts } from '../../domain/ports/collections-repository.js';

export type { NewCollectionInput, StateCounts };
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { transition, type Tx } from './transitions.js';

export async function createCollection(db: Tx, c: NewCollectionInput, actor: string): Promise<Collection> {
  try {
    const row = await db
      .insertInto('collections')
      .values({
        owner: c.owner,
        repository: c.repository,
        name: c.name,
        source_kind: c.sourceKind,
        source_root: c.sourceRoot,
        dataset_type: c.datasetType,
        rgb: JSON.stringify(c.rgb),
        colour: JSON.stringify(c.colour),
        zooniverse_project_id: c.zooniverseProjectId,
        subject_set_naming: c.subjectSetNaming,
        poll_interval_seconds: c.pollIntervalSeconds,
        data_release: c.release?.name ?? 'unknown',
        release_source: c.release?.source ?? 'unmapped',
        release_proprietary: c.release?.proprietary ?? true,
        release_embargo_hours: c.release?.embargoHours ?? 80,
        owner_data_rights: JSON.stringify(c.ownerDataRights ?? []),
        status: 'active',
        cursor: null,
        last_polled_at: null,
        last_poll_error: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await db.insertInto('transitions').values({ entity: 'collection', entity_id: row.id, from_state: null, to_state: 'active', actor, reason: 'registered' }).execute();
    return row;
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new ConflictError(`collection ${c.name} in repository ${c.repository} is already registered`, { field: 'name' });
    throw e;
  }
}

export async function getCollection(db: Tx, id: string): Promise<Collection> {
  const row = await db.selectFrom('collections').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`collection ${id} not found`);
  return row;
}

export async function findCollection(db: Tx, id: string): Promise<Collection | undefined> {
  return db.selectFrom('collections').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listCollections(db: Tx, filter: { owner?: string; status?: CollectionStatus } = {}): Promise<Collection[]> {
  let q = db.selectFrom('collections').selectAll().orderBy('created_at');
  if (filter.owner) q = q.where('owner', '=', filter.owner);
  if (filter.status) q = q.where('status', '=', filter.status);
  return q.execute();
}

export async function recordPoll(db: Tx, id: string, result: { cursor?: string | null; error?: string | null }): Promise<void> {
  const set: Record<string, unknown> = { last_polled_at: new Date(), last_poll_error: result.error ?? null, updated_at: new Date() };
  if (result.cursor !== undefined) set.cursor = result.cursor;
  await db.updateTable('collections').set(set).where('id', '=', id).execute();
}

export async function setCollectionStatus(db: Tx, c: Collection, to: CollectionStatus, actor: string): Promise<boolean> {
  return transition(db, 'collection', c.id, c.status, to, actor);
}

export async function countByState(db: Tx, collectionId: string): Promise<StateCounts> {
  const a = await db.selectFrom('artifacts').select(['state', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', collectionId).groupBy('state').execute();
  const i = await db.selectFrom('images').select(['state', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', collectionId).groupBy('state').execute();
  return { artifacts: Object.fromEntries(a.map((r) => [r.state, r.n])), images: Object.fromEntries(i.map((r) => [r.state, r.n])) };
}

/** JSON columns are stored as text; everything else as it is. */
function columns(c: CollectionChanges): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  for (const k of ['colour', 'rgb', 'extra_metadata', 'owner_data_rights'] as const) if (k in c) out[k] = JSON.stringify(c[k]);
  return out;
}

export function collectionsRepository(db: Tx): CollectionsRepository {
  return {
    create: (c, actor) => createCollection(db, c, actor),
    get: (id) => getCollection(db, id),
    find: (id) => findCollection(db, id),
    findByIdOrName(idOrName) {
      // Comparing a non-UUID with the uuid column would be an error, not a miss.
      const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName);
      return db
        .selectFrom('collections')
        .selectAll()
        .where((eb) => (isUuid ? eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]) : eb('name', '=', idOrName)))
        .execute();
    },
    async lock(id) {
      const row = await db.selectFrom('collections').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row) throw new NotFoundError(`collection ${id} not found`);
      return row;
    },
    list: (filter) => listCollections(db, filter),
    async page(f) {
      // The cursor is (created_at, id) of the last row, opaque to clients.
      let q = db.selectFrom('collections').selectAll().orderBy('created_at').orderBy('id').limit(f.limit + 1);
      if (f.owner) q = q.where('owner', '=', f.owner);
      const after = f.after ? decodeCursor(f.after) : undefined;
      if (after) q = q.where((eb) => eb.or([eb('created_at', '>', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '>', after.id)])]));
      const rows = await q.execute();
      const items = rows.slice(0, f.limit);
      const last = items.at(-1);
      return { items, next: rows.length > f.limit && last ? encodeCursor(new Date(last.created_at), last.id) : null };
    },
    async update(id, changes) {
      await db.updateTable('collections').set({ ...columns(changes), updated_at: new Date() }).where('id', '=', id).execute();
    },
    recordPoll: (id, result) => recordPoll(db, id, result),
    setStatus: (id, from, to, actor, reason) => transition(db, 'collection', id, from, to, actor, {}, reason ?? null),
    countByState: (id) => countByState(db, id),
    async imageCountsOf(ids) {
      const out = new Map<string, Record<string, number>>();
      if (!ids.length) return out;
      const rows = await db.selectFrom('images').select(['collection_id', 'state', sql<number>`count(*)::int`.as('n')]).where('collection_id', 'in', ids).groupBy(['collection_id', 'state']).execute();
      for (const r of rows) out.set(r.collection_id, { ...out.get(r.collection_id), [r.state]: r.n });
      return out;
    },
    async objectIdRows(collectionIds, keys, cols) {
      if (!collectionIds.length || !keys.length || !cols.length) return [];
      const oid = sql`coalesce(${sql.join(cols.map((c) => sql`nullif(btrim(e.value->>${c}::text), '')`))})`;
      const out: { collectionId: string; key: string; objectId: string; uses: number }[] = [];
      // Keys go in slices: a bulk decision names 500 images, each with a few keys.
      for (let i = 0; i < keys.length; i += 5000) {
        const r = await sql<{ collection_id: string; key: string; object_id: string; uses: number }>`
          select collection_id, key, object_id, uses::int as uses from (
            select c.id as collection_id, e.key as key, ${oid} as object_id, count(*) over (partition by c.id, ${oid}) as uses
            from collections c
            cross join lateral jsonb_each(case when jsonb_typeof(c.extra_metadata->'objects') = 'object' then c.extra_metadata->'objects' else '{}'::jsonb end) e
            where c.id in (${sql.join(collectionIds)})
          ) t
          where object_id is not null and key in (${sql.join(keys.slice(i, i + 5000))})`.execute(db);
        out.push(...r.rows.map((x) => ({ collectionId: x.collection_id, key: x.key, objectId: x.object_id, uses: x.uses })));
      }
      return out;
    },
    async delete(id) {
      await db.deleteFrom('collections').where('id', '=', id).execute();
    },
  };
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

/** A cursor this repository made; anything else is a client's mistake, named as such. */
function decodeCursor(cursor: string): { at: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = new Date(iso ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(at.getTime())) throw new ValidationError('after: not a cursor this API returned', { field: 'after' });
  return { at, id };
}
