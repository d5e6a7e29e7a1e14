import { sql } from 'kysely';
import type { VerdictWrite } from '../../domain/ports/images-repository.js';
import { assertTransition } from '../../domain/states.js';
import type { Tx } from './transitions.js';

/**
 * A policy run's verdicts in one statement (see ImagesRepository.recordVerdicts):
 * the values travel as one array per column, `unnest` makes them rows again,
 * and the images moving out of quarantine log their transitions in the same
 * statement. Row by row this was three statements per image (update or
 * transition, its log row, the audit row), the largest share of the
 * database's work from discovery to quarantine.
 */
export async function recordVerdicts(db: Tx, verdicts: VerdictWrite[], actor: string): Promise<void> {
  if (!verdicts.length) return;
  for (const to of new Set(verdicts.map((v) => v.to).filter((t) => t !== undefined))) assertTransition('image', 'quarantined', to);
  const col = <T>(f: (v: VerdictWrite) => T) => verdicts.map(f);
  await sql`
    with v as (
      select * from unnest(
        ${col((v) => v.id)}::uuid[], ${col((v) => v.changes.verdict)}::text[], ${col((v) => JSON.stringify(v.changes.verdict_reasons))}::text[],
        ${col((v) => JSON.stringify(v.changes.verdict_rules))}::text[], ${col((v) => v.changes.strip_coordinates)}::boolean[],
        ${col((v) => v.changes.one_incomplete_set)}::boolean[], ${col((v) => v.changes.policy_ref)}::text[], ${col((v) => v.changes.policy_digest)}::text[],
        ${col((v) => new Date(v.changes.evaluated_at as Date | string).toISOString())}::timestamptz[], ${col((v) => v.to ?? null)}::text[], ${col((v) => v.reason)}::text[]
      ) as v(id, verdict, reasons, rules, strip, one_incomplete, policy_ref, policy_digest, evaluated_at, to_state, reason)
    ), moved as (
      update images i set
        verdict = v.verdict, verdict_reasons = v.reasons::jsonb, verdict_rules = v.rules::jsonb, strip_coordinates = v.strip,
        one_incomplete_set = v.one_incomplete, policy_ref = v.policy_ref, policy_digest = v.policy_digest, evaluated_at = v.evaluated_at,
        state = coalesce(v.to_state, i.state), updated_at = ${new Date()}
      from v
      where i.id = v.id and (v.to_state is null or i.state = 'quarantined')
      returning i.id, v.to_state, v.reason
    )
    insert into transitions (entity, entity_id, from_state, to_state, actor, reason)
    select 'image', id, 'quarantined', to_state, ${actor}, reason from moved where to_state is not null`.execute(db);
}
