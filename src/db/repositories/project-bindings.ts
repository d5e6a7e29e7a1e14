import type { ProjectBindingsRepository } from '../../domain/ports/project-bindings-repository.js';
import type { Tx } from './transitions.js';

export function projectBindingsRepository(db: Tx): ProjectBindingsRepository {
  return {
    list: () => db.selectFrom('project_bindings').selectAll().orderBy('created_at').execute(),
    async isApproved(username, projectId) {
      return (await db.selectFrom('project_bindings').select('id').where('username', '=', username).where('project_id', '=', projectId).executeTakeFirst()) !== undefined;
    },
    approve: (b) =>
      db
        .insertInto('project_bindings')
        .values({ username: b.username, project_id: b.projectId, approved_by: b.approvedBy })
        .onConflict((oc) => oc.columns(['username', 'project_id']).doNothing())
        .returningAll()
        .executeTakeFirst(),
    revoke: (username, projectId) => db.deleteFrom('project_bindings').where('username', '=', username).where('project_id', '=', projectId).returningAll().executeTakeFirst(),
  };
}
