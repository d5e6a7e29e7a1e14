import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Session } from '../schema.js';
import type { LoginFlowRecord, SessionIdentity, SessionsRepository, SessionTokens } from '../../domain/ports/sessions-repository.js';
import type { Tx } from './transitions.js';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

export type { SessionIdentity };

/**
 * Returns the cookie value; only its hash is stored. The provider's ID and
 * access tokens, when given, are stored sealed (AES-256-GCM) under a key
 * derived from the cookie, so reading the database does not yield a token
 * anyone could replay.
 */
export async function createSession(db: Tx, who: SessionIdentity, ttlMs: number, tokens: SessionTokens = {}): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }> {
  const cookie = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMs);
  await db
    .insertInto('sessions')
    .values({
      id_hash: hash(cookie),
      username: who.username,
      roles: JSON.stringify(who.roles),
      groups: JSON.stringify(who.groups),
      data_rights: JSON.stringify(who.dataRights),
      csrf_token: csrfToken,
      id_token_sealed: tokens.idToken ? seal(cookie, tokens.idToken) : null,
      access_token_sealed: tokens.accessToken ? seal(cookie, tokens.accessToken) : null,
      expires_at: expiresAt,
    })
    .execute();
  return { cookie, csrfToken, expiresAt };
}

function sealKey(cookie: string): Buffer {
  return Buffer.from(hkdfSync('sha256', cookie, '', 'bridge session id_token', 32));
}

function seal(cookie: string, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', sealKey(cookie), iv);
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
}

/** The session's ID token, or undefined when there is none or it does not open with this cookie. */
export function unsealIdToken(session: Pick<Session, 'id_token_sealed'>, cookie: string): string | undefined {
  return unseal(session.id_token_sealed, cookie);
}

function unseal(sealed: string | null, cookie: string): string | undefined {
  if (!sealed) return undefined;
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const d = createDecipheriv('aes-256-gcm', sealKey(cookie), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
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

export type StoredFlow = LoginFlowRecord;

export async function saveLoginFlow(db: Tx, f: StoredFlow): Promise<void> {
  await db.insertInto('login_flows').values({ state_hash: hash(f.state), nonce: f.nonce, code_verifier: f.codeVerifier, return_to: f.returnTo }).execute();
}

/** Single use: a flow is deleted as it is taken, and flows older than 10 minutes are void. */
export async function takeLoginFlow(db: Tx, state: string): Promise<StoredFlow | undefined> {
  const row = await db.deleteFrom('login_flows').where('state_hash', '=', hash(state)).returningAll().executeTakeFirst();
  if (!row || new Date(row.created_at).getTime() < Date.now() - 10 * 60_000) return undefined;
  return { state, nonce: row.nonce, codeVerifier: row.code_verifier, returnTo: row.return_to };
}

export function sessionsRepository(db: Tx): SessionsRepository {
  return {
    create: (who, ttlMs, tokens) => createSession(db, who, ttlMs, tokens),
    async find(cookie) {
      const s = await findSession(db, cookie);
      if (!s) return undefined;
      const accessToken = unseal(s.access_token_sealed, cookie);
      return { username: s.username, roles: s.roles, groups: s.groups, dataRights: s.data_rights, csrfToken: s.csrf_token, rolesCheckedAt: new Date(s.roles_checked_at), ...(accessToken ? { accessToken } : {}) };
    },
    async renew(cookie, who) {
      await db
        .updateTable('sessions')
        .set({ roles: JSON.stringify(who.roles), groups: JSON.stringify(who.groups), data_rights: JSON.stringify(who.dataRights), roles_checked_at: new Date() })
        .where('id_hash', '=', hash(cookie))
        .where('username', '=', who.username)
        .execute();
    },
    async end(cookie) {
      const s = await findSession(db, cookie);
      await deleteSession(db, cookie);
      return s ? unsealIdToken(s, cookie) : undefined;
    },
    saveLoginFlow: (f) => saveLoginFlow(db, f),
    takeLoginFlow: (state) => takeLoginFlow(db, state),
    async endAllOf(username) {
      return Number((await db.deleteFrom('sessions').where('username', '=', username).executeTakeFirst()).numDeletedRows);
    },
    purgeExpired: () => purgeExpired(db),
  };
}
