import type { ProjectBinding, ProjectBindingRequest } from './model.js';
import type { Repositories } from './ports/repositories.js';
import { isAdmin, type Caller } from './caller.js';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.js';

/**
 * Which Zooniverse projects a PI's collections may upload to. The bridge
 * uploads with EPO's Zooniverse account, which collaborates on many
 * projects; a PI may only name a project an admin approved for them
 * (POST /api/v1/project-bindings). A PI asks for one with a request
 * (POST /api/v1/project-binding-requests) that waits on the admin page until
 * an admin approves it (the request is then gone, the binding made, in one
 * transaction) or declines it. Requests, approvals, declines and
 * revocations are audited.
 */

function assertAdmin(who: Caller): void {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
}

export async function listProjectBindings(repos: Repositories, who: Caller): Promise<ProjectBinding[]> {
  assertAdmin(who);
  return repos.projectBindings.list();
}

/** Throws ConflictError when the PI already has the project. Answers a request of the PI for it, if there is one. */
export async function approveProjectBinding(repos: Repositories, who: Caller, username: string, projectId: string, reason: string): Promise<ProjectBinding> {
  assertAdmin(who);
  return repos.transaction(async (tx) => {
    const row = await tx.projectBindings.approve({ username, projectId, approvedBy: who.username });
    if (!row) throw new ConflictError(`Zooniverse project ${projectId} is already approved for ${username}`);
    const asked = await tx.projectBindings.dropRequest(username, projectId);
    await tx.audit.append([{ actor: who.username, action: 'approve_project_binding', entity: 'collection', entityId: row.id, collectionId: null, reason, detail: { username, projectId, ...(asked ? { requestId: asked.id } : {}) } }]);
    return row;
  });
}

/** Admins: the PIs' requests waiting for an answer, oldest first. */
export async function listProjectBindingRequests(repos: Repositories, who: Caller): Promise<ProjectBindingRequest[]> {
  assertAdmin(who);
  return repos.projectBindings.requests();
}

/** The caller's own approved projects and waiting requests (what the PI page shows). */
export async function ownProjectBindings(repos: Repositories, who: Caller): Promise<{ approved: ProjectBinding[]; requested: ProjectBindingRequest[] }> {
  const [approved, requested] = await Promise.all([repos.projectBindings.listFor(who.username), repos.projectBindings.requests(who.username)]);
  return { approved, requested };
}

/**
 * A PI asks an admin to approve a Zooniverse project for them. Asking again
 * for the same project leaves the first request as it was (`created`
 * false); a project already approved for them is a ConflictError.
 */
export async function requestProjectBinding(repos: Repositories, who: Caller, projectId: string, reason: string): Promise<{ request: ProjectBindingRequest; created: boolean }> {
  return repos.transaction(async (tx) => {
    if (await tx.projectBindings.isApproved(who.username, projectId)) throw new ConflictError(`Zooniverse project ${projectId} is already approved for you: set it on your collections`);
    const row = await tx.projectBindings.request({ username: who.username, projectId, reason });
    if (!row) {
      const existing = (await tx.projectBindings.requests(who.username)).find((r) => r.project_id === projectId);
      if (existing) return { request: existing, created: false };
      throw new ConflictError(`your request for Zooniverse project ${projectId} changed meanwhile; ask again`);
    }
    await tx.audit.append([{ actor: who.username, action: 'request_project_binding', entity: 'collection', entityId: row.id, collectionId: null, reason, detail: { username: who.username, projectId } }]);
    return { request: row, created: true };
  });
}

/** An admin declines a PI's request (with a reason, audited), or the PI withdraws their own. Throws NotFoundError when there is no such request. */
export async function dropProjectBindingRequest(repos: Repositories, who: Caller, username: string, projectId: string, reason?: string): Promise<ProjectBindingRequest> {
  const own = who.username === username;
  if (!own) assertAdmin(who);
  return repos.transaction(async (tx) => {
    const row = await tx.projectBindings.dropRequest(username, projectId);
    if (!row) throw new NotFoundError(`${username} has no request for Zooniverse project ${projectId}`);
    await tx.audit.append([{ actor: who.username, action: own ? 'withdraw_project_binding_request' : 'decline_project_binding_request', entity: 'collection', entityId: row.id, collectionId: null, reason: reason ?? null, detail: { username, projectId } }]);
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
    `Zooniverse project ${projectId} is not approved for ${owner}: ask an EPO admin to approve it (POST /api/v1/project-bindings {"username": "${owner}", "projectId": "${projectId}"}, the admin's call; you ask with "Ask an admin" under Zooniverse projects on /pi, or POST /api/v1/project-binding-requests {"projectId": "${projectId}", "reason": "..."}), then set it again`,
    { field: 'zooniverseProjectId' },
  );
}

/** Why uploads to this project must wait (no admin approval in force for the owner), or undefined when they may go. */
export async function projectBindingProblem(repos: Repositories, owner: string, projectId: string): Promise<string | undefined> {
  if (await repos.projectBindings.isApproved(owner, projectId)) return undefined;
  return `Zooniverse project ${projectId} is not approved for ${owner} (any more): uploads wait until an EPO admin approves it (POST /api/v1/project-bindings) or the PI sets an approved project`;
}
