import { createHash, randomBytes } from 'node:crypto';
import type { Session } from '../schema.js';
import type { Tx } from './transitions.js';

/** The browser session cookie: httpOnly, SameSite=Lax, Secure outside dev (set in api/auth-routes.ts). */
export const SESSION_COOKIE = 'bridge_session';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

export interface SessionIdentity {
  username: string;
  roles: string[];
  groups: string[];
  dataRights: string[];
}

/** Returns the cookie value; only its hash is stored. */
export async function createSession(db: Tx, who: SessionIdentity, ttlMs: number): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }> {
  const cookie = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMs);
  await db
    .insertInto('sessions')
    .values({ id_hash: hash(cookie), username: who.username, roles: JSON.stringify(who.roles), groups: JSON.stringify(who.groups), data_rights: JSON.stringify(who.dataRights), csrf_token: csrfToken, expires_at: expiresAt })
    .execute();
  return { cookie, csrfToken, expiresAt };
}

export async function findSession(db: Tx, cookie: string): Promise<Session | undefined> {
  if (cookie.length > 200) return undefined;
  return db.selectFrom('sessions').selectAll().where('id_hash', '=', hash(cookie)).where('expires_at', '>', new Date()).executeTakeFirst();
}

export async function deleteSession(db: Tx, cookie: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', hash(cookie)).execute();
}

export async function purgeExpired(db: Tx, now = new Date()): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<', now).execute();
  await db.deleteFrom('login_flows').where('created_at', '<', new Date(now.getTime() - 15 * 60_000)).execute();
}

export interface StoredFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export async function saveLoginFlow(db: Tx, f: StoredFlow): Promise<void> {
  await db.insertInto('login_flows').values({ state_hash: hash(f.state), nonce: f.nonce, code_verifier: f.codeVerifier, return_to: f.returnTo }).execute();
}

/** Single use: a flow is deleted as it is taken, and flows older than 10 minutes are void. */
export async function takeLoginFlow(db: Tx, state: string): Promise<StoredFlow | undefined> {
  const row = await db.deleteFrom('login_flows').where('state_hash', '=', hash(state)).returningAll().executeTakeFirst();
  if (!row || new Date(row.created_at).getTime() < Date.now() - 10 * 60_000) return undefined;
  return { state, nonce: row.nonce, codeVerifier: row.code_verifier, returnTo: row.return_to };
}
