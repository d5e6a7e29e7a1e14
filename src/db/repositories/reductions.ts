import { sql } from 'kysely';
import type { ReductionsRepository, StoredReduction } from '../../domain/ports/reductions-repository.js';
import type { Tx } from './transitions.js';

/** Running reductions per subject and each collection's progress (migration 20261209090000_results). */

const COLUMNS = [
  'workflow_id',
  'subject_id',
  'collection_id',
  'image_id',
  'state',
  'result',
  'classifications',
  sql<string>`through_id::text`.as('through_id'),
  'task',
  'most_likely',
  'agreement',
  'swap_probability',
] as const;

type Row = {
  workflow_id: string;
  subject_id: string;
  collection_id: string;
  image_id: string;
  state: unknown;
  result: unknown;
  classifications: number;
  through_id: string;
  task: string | null;
  most_likely: string | null;
  agreement: number | null;
  swap_probability: number | null;
};

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;

function toReduction(r: Row): StoredReduction {
  return {
    workflowId: r.workflow_id,
    subjectId: r.subject_id,
    collectionId: r.collection_id,
    imageId: r.image_id,
    state: json(r.state),
    result: json(r.result),
    classifications: r.classifications,
    throughId: r.through_id,
    task: r.task,
    mostLikely: r.most_likely,
    agreement: r.agreement === null ? null : Number(r.agreement),
    swapProbability: r.swap_probability === null ? null : Number(r.swap_probability),
  };
}

const UPSERT_CHUNK = 500;

export function reductionsRepository(db: Tx): ReductionsRepository {
  return {
    async progress(collectionId) {
      const r = await db
        .selectFrom('reduction_progress')
        .select([sql<string>`reduced_seq::text`.as('reduced_seq'), 'swap_volunteers', 'options_digest'])
        .where('collection_id', '=', collectionId)
        .executeTakeFirst();
      if (!r) return undefined;
      return { reducedSeq: r.reduced_seq, swapVolunteers: r.swap_volunteers === null ? null : json(r.swap_volunteers), optionsDigest: r.options_digest };
    },
    async saveProgress(collectionId, p, opts) {
      const values = { collection_id: collectionId, reduced_seq: p.reducedSeq, swap_volunteers: p.swapVolunteers === null ? null : JSON.stringify(p.swapVolunteers), options_digest: p.optionsDigest };
      const digest = opts?.recomputed ? sql<string>`${values.options_digest}` : sql<string>`case when reduction_progress.options_digest = '' then '' else ${values.options_digest} end`;
      await db
        .insertInto('reduction_progress')
        .values(values)
        .onConflict((oc) => oc.column('collection_id').doUpdateSet({ reduced_seq: values.reduced_seq, swap_volunteers: values.swap_volunteers, options_digest: digest, updated_at: new Date() }))
        .execute();
    },
    async states(collectionId, subjects) {
      if (subjects.length === 0) return [];
      const out: StoredReduction[] = [];
      const byWorkflow = new Map<string, string[]>();
      for (const s of subjects) byWorkflow.set(s.workflowId, [...(byWorkflow.get(s.workflowId) ?? []), s.subjectId]);
      for (const [workflowId, ids] of byWorkflow) {
        const rows = await db.selectFrom('reductions').select(COLUMNS).where('collection_id', '=', collectionId).where('workflow_id', '=', workflowId).where('subject_id', 'in', ids).execute();
        out.push(...rows.map((r) => toReduction(r as Row)));
      }
      return out;
    },
    async upsert(rows) {
      for (let i = 0; i < rows.length; i += UPSERT_CHUNK) {
        const values = rows.slice(i, i + UPSERT_CHUNK).map((r) => ({
          workflow_id: r.workflowId,
          subject_id: r.subjectId,
          collection_id: r.collectionId,
          image_id: r.imageId,
          state: JSON.stringify(r.state),
          result: JSON.stringify(r.result),
          classifications: r.classifications,
          through_id: r.throughId,
          task: r.task,
          most_likely: r.mostLikely,
          agreement: r.agreement,
          swap_probability: r.swapProbability,
        }));
        await db
          .insertInto('reductions')
          .values(values)
          .onConflict((oc) =>
            oc.columns(['workflow_id', 'subject_id']).doUpdateSet((eb) => ({
              collection_id: eb.ref('excluded.collection_id'),
              image_id: eb.ref('excluded.image_id'),
              state: eb.ref('excluded.state'),
              result: eb.ref('excluded.result'),
              classifications: eb.ref('excluded.classifications'),
              through_id: eb.ref('excluded.through_id'),
              task: eb.ref('excluded.task'),
              most_likely: eb.ref('excluded.most_likely'),
              agreement: eb.ref('excluded.agreement'),
              swap_probability: eb.ref('excluded.swap_probability'),
              change_seq: sql<number>`nextval('reductions_change_seq')`,
              updated_at: new Date(),
            })),
          )
          .execute();
      }
    },
    async clear(collectionId) {
      await db.deleteFrom('reductions').where('collection_id', '=', collectionId).execute();
    },
    async list(collectionId, opts) {
      let q = db.selectFrom('reductions').select(COLUMNS).where('collection_id', '=', collectionId);
      const a = opts.after;
      if (a) q = q.where((eb) => eb.or([eb('workflow_id', '>', a.workflowId), eb.and([eb('workflow_id', '=', a.workflowId), eb('subject_id', '>', a.subjectId)])]));
      const rows = await q.orderBy('workflow_id').orderBy('subject_id').limit(opts.limit).execute();
      return rows.map((r) => toReduction(r as Row));
    },
    async count(collectionId) {
      const r = await db.selectFrom('reductions').select(sql<string>`count(*)::text`.as('n')).where('collection_id', '=', collectionId).executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    async markForRecompute(collectionId) {
      // An empty digest never equals the digest of any options, so the next run recomputes (results-reduce.ts).
      await db
        .insertInto('reduction_progress')
        .values({ collection_id: collectionId, reduced_seq: '0', swap_volunteers: null, options_digest: '', updated_at: new Date(0) })
        .onConflict((oc) => oc.column('collection_id').doUpdateSet({ options_digest: '', updated_at: new Date(0) }))
        .execute();
    },
    async behind(olderThan, limit) {
      // Per collection the newest seq is one backwards step of the (collection_id, seq) index.
      const r = await sql<{ id: string }>`
        select c.id from collections c
        cross join lateral (select max(seq) as m from classifications where collection_id = c.id) x
        left join reduction_progress p on p.collection_id = c.id
        where c.zooniverse_project_id is not null and x.m is not null and (x.m > coalesce(p.reduced_seq, 0) or p.options_digest = '')
          and (p.updated_at is null or p.updated_at < ${olderThan})
        order by c.id limit ${limit}`.execute(db);
      return r.rows.map((x) => x.id);
    },
    async maxThroughId(collectionId) {
      const r = await db.selectFrom('reductions').select(sql<string | null>`max(through_id)::text`.as('m')).where('collection_id', '=', collectionId).executeTakeFirst();
      return r?.m ?? null;
    },
  };
}
