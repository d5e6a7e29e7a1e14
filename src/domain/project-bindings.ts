import type { ProjectBinding } from './model.js';
import type { Repositories } from './ports/repositories.js';
import { isAdmin, type Caller } from './caller.js';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.js';

/**
 * Which Zooniverse projects a PI's collections may upload to. The bridge
 * uploads with EPO's Zooniverse account, which collaborates on many
 * projects; a PI may only name a project an admin approved for them
 * (POST /api/v1/project-bindings). Approvals and revocations are audited.
 */

function assertAdmin(who: Caller): void {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
}

export async function listProjectBindings(repos: Repositories, who: Caller): Promise<ProjectBinding[]> {
  assertAdmin(who);
  return repos.projectBindings.list();
}

/** Throws ConflictError when the PI already has the project. */
export async function approveProjectBinding(repos: Repositories, who: Caller, username: string, projectId: string, reason: string): Promise<ProjectBinding> {
  assertAdmin(who);
  return repos.transaction(async (tx) => {
    const row = await tx.projectBindings.approve({ username, projectId, approvedBy: who.username });
    if (!row) throw new ConflictError(`Zooniverse project ${projectId} is already approved for ${username}`);
    await tx.audit.append([{ actor: who.username, action: 'approve_project_binding', entity: 'collection', entityId: row.id, collectionId: null, reason, detail: { username, projectId } }]);
    return row;
  });
}

/** Throws NotFoundError when the PI has no such binding. Collections already set to the project keep it, but their uploads wait (release.ts); new settings are refused. */
export async function revokeProjectBinding(repos: Repositories, who: Caller, username: string, projectId: string): Promise<void> {
  assertAdmin(who);
  await repos.transaction(async (tx) => {
    const row = await tx.projectBindings.revoke(username, projectId);
    if (!row) throw new NotFoundError(`Zooniverse project ${projectId} is not approved for ${username}`);
    await tx.audit.append([{ actor: who.username, action: 'revoke_project_binding', entity: 'collection', entityId: row.id, collectionId: null, detail: { username, projectId } }]);
  });
}

/** Refuses (403) a Zooniverse project that no admin approved for the collection's owner, saying how to get it approved. */
export async function assertProjectApproved(repos: Repositories, owner: string, projectId: string): Promise<void> {
  if (await repos.projectBindings.isApproved(owner, projectId)) return;
  throw new ForbiddenError(
    `Zooniverse project ${projectId} is not approved for ${owner}: ask an EPO admin to approve it (POST /api/v1/project-bindings {"username": "${owner}", "projectId": "${projectId}"}), then set it again`,
    { field: 'zooniverseProjectId' },
  );
}

/** Why uploads to this project must wait (no admin approval in force for the owner), or undefined when they may go. */
export async function projectBindingProblem(repos: Repositories, owner: string, projectId: string): Promise<string | undefined> {
  if (await repos.projectBindings.isApproved(owner, projectId)) return undefined;
  return `Zooniverse project ${projectId} is not approved for ${owner} (any more): uploads wait until an EPO admin approves it (POST /api/v1/project-bindings) or the PI sets an approved project`;
}
