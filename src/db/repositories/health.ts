import { sql } from 'kysely';
import type { HealthRepository } from '../../domain/ports/health-repository.js';
import type { Tx } from './transitions.js';

export function healthRepository(db: Tx): HealthRepository {
  return {
    async ping() {
      await sql`select 1`.execute(db);
    },
    async countByState(table) {
      const rows = await db.selectFrom(table).select(['state', sql<number>`count(*)::int`.as('n')]).groupBy('state').execute();
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
  };
}
