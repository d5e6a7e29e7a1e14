import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { ResultsFilter, ResultsPageQuery, ResultsReadRepository, SeenTask, StoredResult } from '../../domain/ports/results-read-repository.js';
import type { Tx } from './transitions.js';

/**
 * The results listing's reads. A subject's consensus is filtered from the
 * summary columns (the first question task) unless the filter names a task,
 * then from that task's consensus in the JSON result. Retirement and flags
 * come from result_effects rows that are done (an intent or a failure is
 * not a retirement). Paging is keyset on (agreement, workflow, subject),
 * with "no agreement" sorting as -1 so that every row has a place.
 */
export function resultsReadRepository(db: Tx): ResultsReadRepository {
  return {
    async page(q) {
      const key = sortKey(q.task);
      let query = db
        .selectFrom('reductions as r')
        .innerJoin('images as i', 'i.id', 'r.image_id')
        .select([
          'r.workflow_id',
          'r.subject_id',
          'r.image_id',
          'r.classifications',
          'r.result',
          'r.swap_probability',
          'i.group_key',
          'i.stamp_index',
          'i.bands',
          'i.ra',
          'i.dec',
          'i.quarantine_key',
          agreementOf(q.task).as('sort_agreement'),
          sql<string | null>`(select e.target from result_effects e where e.workflow_id = r.workflow_id and e.subject_id = r.subject_id and e.kind = 'retire_subject' and e.state = 'done' order by e.done_at nulls last, e.created_at limit 1)`.as('retired_reason'),
          sql<unknown>`(select coalesce(jsonb_agg(distinct coalesce(nullif(e.detail->>'label', ''), e.rule_id)), '[]'::jsonb) from result_effects e where e.workflow_id = r.workflow_id and e.subject_id = r.subject_id and e.kind = 'flag' and e.state = 'done')`.as('flags'),
        ])
        .where('r.collection_id', '=', q.collectionId)
        .where(filterOf(q));
      if (q.after) {
        const a = q.after;
        if (q.order === 'subject') query = query.where(sql<SqlBool>`(r.workflow_id, r.subject_id) > (${a.workflowId}, ${a.subjectId})`);
        else {
          const cmp = q.order === 'agreement' ? sql`>` : sql`<`;
          query = query.where(sql<SqlBool>`(${key}, r.workflow_id, r.subject_id) ${cmp} (${a.agreement ?? -1}::double precision, ${a.workflowId}, ${a.subjectId})`);
        }
      }
      if (q.order === 'subject') query = query.orderBy('r.workflow_id').orderBy('r.subject_id');
      else {
        const dir = q.order === 'agreement' ? 'asc' : 'desc';
        query = query.orderBy(key, dir).orderBy('r.workflow_id', dir).orderBy('r.subject_id', dir);
      }
      const rows = await query.limit(q.limit).execute();
      return rows.map(
        (r): StoredResult => ({
          workflowId: r.workflow_id,
          subjectId: r.subject_id,
          imageId: r.image_id,
          classifications: Number(r.classifications),
          result: parseJson(r.result) as Record<string, unknown>,
          sortAgreement: r.sort_agreement === null ? null : Number(r.sort_agreement),
          swapProbability: r.swap_probability === null ? null : Number(r.swap_probability),
          groupKey: r.group_key,
          stampIndex: r.stamp_index,
          bands: r.bands,
          ra: r.ra === null ? null : Number(r.ra),
          dec: r.dec === null ? null : Number(r.dec),
          quarantineKey: r.quarantine_key,
          retiredReason: r.retired_reason,
          flags: ((parseJson(r.flags) as string[] | null) ?? []).slice().sort(),
        }),
      );
    },

    async count(collectionId, f) {
      const r = await db.selectFrom('reductions as r').select(sql<number>`count(*)::int`.as('n')).where('r.collection_id', '=', collectionId).where(filterOf(f)).executeTakeFirstOrThrow();
      return Number(r.n);
    },

    async agreementHistogram(collectionId, f, bins) {
      const a = agreementOf(f.task);
      const rows = await db
        .selectFrom('reductions as r')
        .select([sql<number | null>`case when ${a} is null then null else least(floor(${a} * ${bins})::int, ${bins - 1}) end`.as('bin'), sql<number>`count(*)::int`.as('n')])
        .where('r.collection_id', '=', collectionId)
        .where(filterOf(f))
        .groupBy(sql`1`)
        .execute();
      const counts = Array.from({ length: bins }, () => 0);
      let none = 0;
      for (const r of rows) {
        if (r.bin === null) none += Number(r.n);
        else counts[Math.max(0, Number(r.bin))] += Number(r.n);
      }
      return { counts, none };
    },

    async seenTasks(collectionId) {
      const rows = await sql<{ task: string; kind: string | null; label: string | null }>`
        select distinct t.key as task, t.value->>'kind' as kind, l.label as label
        from reductions r
        cross join lateral jsonb_each(case when jsonb_typeof(r.result->'tasks') = 'object' then r.result->'tasks' else '{}'::jsonb end) t
        left join lateral (
          select jsonb_object_keys(case when jsonb_typeof(t.value->'counts') = 'object' then t.value->'counts' else '{}'::jsonb end) as label
          union all
          select c->>'choice' from jsonb_array_elements(case when jsonb_typeof(t.value->'choices') = 'array' then t.value->'choices' else '[]'::jsonb end) c
        ) l on true
        where r.collection_id = ${collectionId}`.execute(db);
      const byTask = new Map<string, SeenTask>();
      for (const r of rows.rows) {
        let t = byTask.get(r.task);
        if (!t) byTask.set(r.task, (t = { task: r.task, kind: r.kind ?? 'unknown', labels: [] }));
        if (r.label !== null && !t.labels.includes(r.label)) t.labels.push(r.label);
      }
      for (const t of byTask.values()) t.labels.sort();
      return [...byTask.values()].sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0));
    },

    async workflowTasks(collectionId) {
      const rows = await db
        .selectFrom('workflows as w')
        .select(['w.workflow_id', 'w.tasks'])
        .where('w.workflow_id', 'in', db.selectFrom('reductions').select('workflow_id').where('collection_id', '=', collectionId).distinct())
        .orderBy('w.workflow_id')
        .execute();
      return rows.map((r) => ({ workflowId: r.workflow_id, tasks: (parseJson(r.tasks) ?? {}) as Record<string, unknown> }));
    },
  };
}

function parseJson(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/** The consensus agreement a filter or sort reads: the named task's, else the summary column. */
function agreementOf(task: string | undefined): RawBuilder<number | null> {
  return task === undefined ? sql<number | null>`r.agreement` : sql<number | null>`(r.result->'tasks'->${task}->'consensus'->>'agreement')::double precision`;
}

function sortKey(task: string | undefined): RawBuilder<number> {
  return sql<number>`coalesce(${agreementOf(task)}, -1)`;
}

function filterOf(f: ResultsFilter): RawBuilder<SqlBool> {
  const parts: RawBuilder<unknown>[] = [sql`true`];
  const answer = f.task === undefined ? sql`r.most_likely` : sql`(r.result->'tasks'->${f.task}->'consensus'->>'most_likely')`;
  if (f.task !== undefined) parts.push(sql`(r.result->'tasks'->${f.task}) is not null`);
  if (f.answer !== undefined) parts.push(sql`${answer} = ${f.answer}`);
  if (f.minAgreement !== undefined) parts.push(sql`${agreementOf(f.task)} >= ${f.minAgreement}`);
  if (f.maxAgreement !== undefined) parts.push(sql`${agreementOf(f.task)} <= ${f.maxAgreement}`);
  const effect = (kind: string) => sql`exists (select 1 from result_effects e where e.workflow_id = r.workflow_id and e.subject_id = r.subject_id and e.kind = ${kind} and e.state = 'done')`;
  if (f.retired !== undefined) parts.push(f.retired ? effect('retire_subject') : sql`not ${effect('retire_subject')}`);
  if (f.flagged !== undefined) parts.push(f.flagged ? effect('flag') : sql`not ${effect('flag')}`);
  return sql<SqlBool>`(${sql.join(parts, sql` and `)})`;
}
