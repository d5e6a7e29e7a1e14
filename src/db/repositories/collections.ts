import { sql } from 'kysely';
import type { Collection, CollectionStatus, SourceKind } from '../schema.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { transition, type Tx } from './transitions.js';

export interface NewCollectionInput {
  owner: string;
  repository: string;
  name: string;
  sourceKind: SourceKind;
  sourceRoot: string | null;
  datasetType: string;
  rgb: string[];
  colour: Record<string, unknown>;
  zooniverseProjectId: string | null;
  subjectSetNaming: string | null;
  pollIntervalSeconds: number;
  /** Data release of the datasets (dp1, dr1, prompt...); defaults to the repository label. */
  dataRelease?: string | null;
  /** The registering PI's data_rights claim, kept for the policy (workers have no session). */
  ownerDataRights?: string[];
}

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
        data_release: c.dataRelease ?? c.repository,
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

export interface StateCounts {
  artifacts: Record<string, number>;
  images: Record<string, number>;
}

export async function countByState(db: Tx, collectionId: string): Promise<StateCounts> {
  const a = await db.selectFrom('artifacts').select(['state', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', collectionId).groupBy('state').execute();
  const i = await db.selectFrom('images').select(['state', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', collectionId).groupBy('state').execute();
  return { artifacts: Object.fromEntries(a.map((r) => [r.state, r.n])), images: Object.fromEntries(i.map((r) => [r.state, r.n])) };
}
