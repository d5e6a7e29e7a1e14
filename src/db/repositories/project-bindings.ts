import type { ProjectBindingsRepository } from '../../domain/ports/project-bindings-repository.js';
import type { Tx } from './transitions.js';

export function projectBindingsRepository(db: Tx): ProjectBindingsRepository {
  return {
    list: () => db.selectFrom('project_bindings').selectAll().orderBy('created_at').execute(),
    listFor: (username) => db.selectFrom('project_bindings').selectAll().where('username', '=', username).orderBy('created_at').execute(),
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
    requests(username) {
      let q = db.selectFrom('project_binding_requests').selectAll();
      if (username !== undefined) q = q.where('username', '=', username);
      return q.orderBy('created_at').orderBy('id').execute();
    },
    request: (r) =>
      db
        .insertInto('project_binding_requests')
        .values({ username: r.username, project_id: r.projectId, reason: r.reason })
        .onConflict((oc) => oc.columns(['username', 'project_id']).doNothing())
        .returningAll()
        .executeTakeFirst(),
    dropRequest: (username, projectId) => db.deleteFrom('project_binding_requests').where('username', '=', username).where('project_id', '=', projectId).returningAll().executeTakeFirst(),
  };
}
