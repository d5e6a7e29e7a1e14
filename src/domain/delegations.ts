import type { Delegation } from './model.js';
import type { Repositories } from './ports/repositories.js';
import { isAdmin, type Caller } from './caller.js';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.js';

/**
 * Admins delegate collection prefixes outside u/<own name>/ to a PI, who
 * may then register (and owns) collections under them. Every grant and
 * revocation is audited in the same transaction.
 */

function assertAdmin(who: Caller): void {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
}

export async function listDelegations(repos: Repositories, who: Caller): Promise<Delegation[]> {
  assertAdmin(who);
  return repos.delegations.list();
}

/** Throws ConflictError when the PI already holds the prefix. */
export async function delegate(repos: Repositories, who: Caller, username: string, prefix: string): Promise<Delegation> {
  assertAdmin(who);
  return repos.transaction(async (tx) => {
    const row = await tx.delegations.grant({ username, prefix, grantedBy: who.username });
    if (!row) throw new ConflictError(`${username} already has ${prefix}`);
    await tx.audit.append([{ actor: who.username, action: 'delegate', entity: 'collection', entityId: row.id, collectionId: null, detail: { username, prefix } }]);
    return row;
  });
}

/** Throws NotFoundError when there is no such delegation. */
export async function revokeDelegation(repos: Repositories, who: Caller, id: string): Promise<void> {
  assertAdmin(who);
  await repos.transaction(async (tx) => {
    const row = await tx.delegations.revoke(id);
    if (!row) throw new NotFoundError(`delegation ${id} not found`);
    await tx.audit.append([{ actor: who.username, action: 'undelegate', entity: 'collection', entityId: row.id, collectionId: null, detail: { username: row.username, prefix: row.prefix } }]);
  });
}
