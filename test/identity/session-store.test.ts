import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, deleteSession, findSession, purgeExpired, sessionsRepository, unsealIdToken } from '../../src/db/repositories/sessions.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

const who = { username: 'rev', roles: ['pi', 'reviewer'], groups: ['g-epo'], dataRights: ['dp1'] };
const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXYifQ.c2lnbmF0dXJl';
const ACCESS_TOKEN = 'opaque-access-token-Zq3xV9';

for (const kind of DB_KINDS) {
  describe(`browser sessions on ${kind}`, () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await freshDatabase(kind);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('stores neither the cookie nor the provider tokens in the clear, and gives them back only to its cookie', async () => {
      const s = await createSession(t.db, who, 60_000, { idToken: ID_TOKEN, accessToken: ACCESS_TOKEN });
      const row = await findSession(t.db, s.cookie);
      expect(row).toMatchObject({ username: 'rev', csrf_token: s.csrfToken });
      const everything = JSON.stringify(await t.db.selectFrom('sessions').selectAll().execute());
      expect(everything).not.toContain(s.cookie);
      expect(everything).not.toContain(ID_TOKEN);
      expect(everything).not.toContain('eyJ');
      expect(everything).not.toContain(ACCESS_TOKEN);
      expect(unsealIdToken(row!, s.cookie)).toBe(ID_TOKEN);
      const repo = sessionsRepository(t.db);
      expect((await repo.find(s.cookie))?.accessToken).toBe(ACCESS_TOKEN);
      // Another session's cookie, or a tampered seal, opens nothing.
      const other = await createSession(t.db, who, 60_000, { idToken: ID_TOKEN, accessToken: ACCESS_TOKEN });
      expect((await repo.find(other.cookie))?.accessToken).toBe(ACCESS_TOKEN);
      expect(unsealIdToken(row!, other.cookie)).toBeUndefined();
      const sealed = row!.id_token_sealed!;
      const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
      expect(unsealIdToken({ id_token_sealed: flipped }, s.cookie)).toBeUndefined();
      await deleteSession(t.db, s.cookie);
      expect(await findSession(t.db, s.cookie)).toBeUndefined();
    });

    it('keeps no token for a session that came without one, and drops expired sessions', async () => {
      const s = await createSession(t.db, who, 60_000);
      expect(unsealIdToken((await findSession(t.db, s.cookie))!, s.cookie)).toBeUndefined();
      expect((await sessionsRepository(t.db).find(s.cookie))?.accessToken).toBeUndefined();
      const old = await createSession(t.db, who, 1);
      await new Promise((r) => setTimeout(r, 5));
      expect(await findSession(t.db, old.cookie)).toBeUndefined();
      await purgeExpired(t.db);
      expect(await findSession(t.db, s.cookie)).toBeDefined();
    });
  });
}
