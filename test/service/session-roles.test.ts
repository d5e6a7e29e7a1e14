import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * Roles are not frozen at sign-in: every SESSION_ROLES_REFRESH_SECONDS (1 s
 * here) a browser session asks the provider again (userinfo, with the
 * sign-in's access token), so a reviewer taken out of the group loses the
 * role within that time, and keeps being signed in.
 */
let app: BridgeApp;
beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien'], stamps: 2, env: { SESSION_ROLES_REFRESH_SECONDS: '1' } });
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('session roles', () => {
  it('a reviewer removed from the group at the provider loses the role once the interval has passed, without being signed out', async () => {
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).execute()).map((i) => i.id);
    expect(ids.length).toBeGreaterThan(0);
    const decide = (who: { cookie: string; csrf: string }, imageIds: string[]) =>
      fetch(`${app.url}/api/v1/review/decisions`, { method: 'POST', headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds, action: 'approve' }) });
    const me = async (who: { cookie: string }) => {
      const r = await fetch(`${app.url}/api/v1/me`, { headers: { cookie: who.cookie } });
      return { status: r.status, roles: r.status === 200 ? ((await r.json()) as { roles: string[] }).roles : [] };
    };

    const rev = await app.session('rev');
    const first = await decide(rev, ids.slice(0, 1));
    expect(first.status, await first.text()).toBe(200);
    const asked = app.op.hits('/me');

    // Taken out of epo-reviewers at the provider; the session still says reviewer for at most 1 s.
    const before = app.op.accounts.rev.groups;
    app.op.accounts.rev.groups = before.filter((g) => g.name !== 'epo-reviewers');
    try {
      await new Promise((r) => setTimeout(r, 1200));
      const stale = await decide(rev, ids.slice(1));
      expect(stale.status).toBe(403);
      // Still signed in, as a PI: the provider was asked again (userinfo), not the user.
      expect(await me(rev)).toEqual({ status: 200, roles: ['pi'] });
      expect(app.op.hits('/me')).toBeGreaterThan(asked);
    } finally {
      app.op.accounts.rev.groups = before;
    }
    // Put back in the group: the next re-check gives the role back to the same session.
    await new Promise((r) => setTimeout(r, 1200));
    expect((await me(rev)).roles).toContain('reviewer');
  }, 60_000);

  it('a session older than the interval keeps working while the provider vouches for it', async () => {
    const boss = await app.session('boss');
    await new Promise((r) => setTimeout(r, 1200));
    for (let i = 0; i < 3; i++) {
      const me = await fetch(`${app.url}/api/v1/me`, { headers: { cookie: boss.cookie } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { roles: string[] }).roles).toContain('admin');
    }
  });

  it('a user the provider no longer knows is signed out at the next re-check', async () => {
    const other = await app.session('other');
    const account = app.op.accounts.other;
    delete app.op.accounts.other;
    try {
      await new Promise((r) => setTimeout(r, 1200));
      expect((await fetch(`${app.url}/api/v1/me`, { headers: { cookie: other.cookie } })).status).toBe(401);
      // The session is gone for good, not just for this request.
      expect(await app.s.db.selectFrom('sessions').select('username').where('username', '=', 'other').execute()).toEqual([]);
    } finally {
      app.op.accounts.other = account;
    }
  });
});
