import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * Roles are not frozen at sign-in: a reviewer taken out of the group at the
 * provider loses access within SESSION_ROLES_REFRESH_SECONDS (1 s here).
 */
let app: BridgeApp;
beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien'], stamps: 2, env: { SESSION_ROLES_REFRESH_SECONDS: '1' } });
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('session roles', () => {
  it('a reviewer removed from the group at the provider loses access once the interval has passed', async () => {
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).execute()).map((i) => i.id);
    expect(ids.length).toBeGreaterThan(0);
    const decide = (who: { cookie: string; csrf: string }, imageIds: string[]) =>
      fetch(`${app.url}/api/v1/review/decisions`, { method: 'POST', headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds, action: 'approve' }) });

    const rev = await app.session('rev');
    const first = await decide(rev, ids.slice(0, 1));
    expect(first.status, await first.text()).toBe(200);

    // Taken out of epo-reviewers at the provider; the session still says reviewer for at most 1 s.
    const before = app.op.accounts.rev.groups;
    app.op.accounts.rev.groups = before.filter((g) => g.name !== 'epo-reviewers');
    try {
      await new Promise((r) => setTimeout(r, 1200));
      const stale = await decide(rev, ids.slice(1));
      expect(stale.status).toBe(401);
      // The old cookie is gone for good, not just for this request.
      expect((await fetch(`${app.url}/api/v1/me`, { headers: { cookie: rev.cookie } })).status).toBe(401);
      // Signing in again reads the groups again: no longer a reviewer.
      const again = await app.session('rev');
      const denied = await decide(again, ids.slice(1));
      expect(denied.status).toBe(403);
    } finally {
      app.op.accounts.rev.groups = before;
    }
  }, 60_000);

  it('a session younger than the interval keeps working', async () => {
    const boss = await app.session('boss');
    const me = await fetch(`${app.url}/api/v1/me`, { headers: { cookie: boss.cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { roles: string[] }).roles).toContain('admin');
  });
});
