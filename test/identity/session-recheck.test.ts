import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { authenticator, SESSION_COOKIE, type Identity, type IdentityProvider } from '../../src/api/auth.js';
import { sessionsRepository } from '../../src/db/repositories/sessions.js';
import { UpstreamError } from '../../src/domain/errors.js';
import { problemHandler } from '../../src/api/problem.js';
import { freshDatabase, type TestDb } from '../support/databases.js';
import { createLogger } from '../../src/app/logger.js';

/**
 * How a browser session's re-check treats each answer of the provider: the
 * roles it states now replace the old ones; a refusal ends the session; an
 * unreachable provider fails the request (503) but keeps the session, so an
 * outage neither signs everyone out nor lets stale roles through. The real
 * provider's answers are covered by test/service/session-roles.test.ts; here
 * the provider is a scripted stand-in so that an outage can be staged.
 */
let t: TestDb;
let url: string;
let close: () => Promise<void>;
let answer: () => Promise<Identity>;
let asked = 0;

beforeAll(async () => {
  t = await freshDatabase('pglite');
  const provider = {
    recheckSession: async () => {
      asked++;
      return answer();
    },
  } as unknown as IdentityProvider;
  const app = express();
  app.use(authenticator({ sessions: sessionsRepository(t.db), provider, devHeaders: false, sessionRolesMaxAgeMs: 500 }));
  app.get('/me', (req, res) => (req.identity ? res.json(req.identity) : res.status(401).json({})));
  app.use(problemHandler(createLogger('silent')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => server.close(() => r()));
});
afterAll(async () => {
  await close?.();
  await t?.close();
});

const rev: Identity = { username: 'rev', roles: ['pi', 'reviewer'], groups: ['epo-reviewers'], dataRights: ['dp1'] };
const me = (cookie: string) => fetch(`${url}/me`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } });
// Roles are re-checked when older than 500 ms: long enough that a burst of
// requests on a loaded CI machine all fall inside one re-check's freshness,
// short enough that waiting it out keeps the file quick.
const stale = () => new Promise((r) => setTimeout(r, 550));

describe('re-checking a browser session', () => {
  it('takes the roles the provider states now', async () => {
    const s = await sessionsRepository(t.db).create(rev, 60_000, { accessToken: 'at-1' });
    await stale();
    answer = async () => ({ ...rev, roles: ['pi'], groups: [] });
    const r = await me(s.cookie);
    expect(r.status).toBe(200);
    expect(((await r.json()) as Identity).roles).toEqual(['pi']);
  });

  it('keeps the session through a provider outage (503), and re-checks when it is back', async () => {
    const s = await sessionsRepository(t.db).create(rev, 60_000, { accessToken: 'at-2' });
    await stale();
    answer = async () => {
      throw new UpstreamError('the identity provider is unreachable');
    };
    expect((await me(s.cookie)).status).toBe(503);
    answer = async () => rev;
    const back = await me(s.cookie);
    expect(back.status).toBe(200);
    expect(((await back.json()) as Identity).roles).toEqual(['pi', 'reviewer']);
  });

  it('ends the session when the provider refuses, or when there is no token to ask with', async () => {
    const s = await sessionsRepository(t.db).create(rev, 60_000, { accessToken: 'at-3' });
    const tokenless = await sessionsRepository(t.db).create(rev, 60_000);
    await stale();
    answer = async () => {
      throw new Error('unknown, expired or revoked token');
    };
    const before = asked;
    expect((await me(s.cookie)).status).toBe(401);
    expect((await me(tokenless.cookie)).status).toBe(401);
    expect(asked).toBe(before + 1);
    expect(await sessionsRepository(t.db).find(s.cookie)).toBeUndefined();
    expect(await sessionsRepository(t.db).find(tokenless.cookie)).toBeUndefined();
  });

  it('asks the provider once for a burst of requests', async () => {
    const s = await sessionsRepository(t.db).create(rev, 60_000, { accessToken: 'at-4' });
    await stale();
    answer = async () => {
      await new Promise((r) => setTimeout(r, 30));
      return rev;
    };
    const before = asked;
    const all = await Promise.all(Array.from({ length: 5 }, () => me(s.cookie)));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(asked).toBe(before + 1);
  });
});
