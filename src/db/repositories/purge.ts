import type { PurgeRepository } from '../../domain/ports/purge-repository.js';
import type { Tx } from './transitions.js';

export function purgeRepository(db: Tx): PurgeRepository {
  return {
    async endSessionsOf(username) {
      return Number((await db.deleteFrom('sessions').where('username', '=', username).executeTakeFirst()).numDeletedRows);
    },
    async dropDelegationsOf(username) {
      return Number((await db.deleteFrom('delegations').where('username', '=', username).executeTakeFirst()).numDeletedRows);
    },
  };
}
