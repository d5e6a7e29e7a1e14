import type { DelegationsRepository } from '../../domain/ports/delegations-repository.js';
import type { Tx } from './transitions.js';

export function delegationsRepository(db: Tx): DelegationsRepository {
  return {
    list: () => db.selectFrom('delegations').selectAll().orderBy('created_at').execute(),
    async prefixesOf(username) {
      const rows = await db.selectFrom('delegations').select('prefix').where('username', '=', username).execute();
      return rows.map((r) => r.prefix);
    },
    grant: (d) =>
      db
        .insertInto('delegations')
        .values({ username: d.username, prefix: d.prefix, granted_by: d.grantedBy })
        .onConflict((oc) => oc.columns(['username', 'prefix']).doNothing())
        .returningAll()
        .executeTakeFirst(),
    revoke: (id) => db.deleteFrom('delegations').where('id', '=', id).returningAll().executeTakeFirst(),
    async revokeAllOf(username) {
      return Number((await db.deleteFrom('delegations').where('username', '=', username).executeTakeFirst()).numDeletedRows);
    },
  };
}
