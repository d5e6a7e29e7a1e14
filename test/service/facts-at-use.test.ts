import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeAppOnZooniverse, type BridgeApp } from '../support/bridge-app.js';
import type { PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';

/**
 * Facts checked when they are used, not only when they were first given:
 * a Zooniverse project binding an admin revoked stops uploads to it (until
 * approved again), and the owner's data rights follow what the identity
 * provider says at each request. Through the real job system, a real OIDC
 * provider and a Panoptes double.
 */
let app: BridgeApp & { zoo: PanoptesServerDouble };
let zoo: PanoptesServerDouble;

beforeAll(async () => {
  app = await startBridgeAppOnZooniverse({ owners: ['alien'], stamps: 2, settings: { uploadMode: 'api' } });
  zoo = app.zoo;
}, 120_000);
afterAll(async () => {
  await app?.close();
});

const as = (user: string, method: string, path: string, body?: unknown) => app.call(user, method, path, body);

describe('a revoked project binding', () => {
  it('holds the upload (waiting, with how to fix it) and lets it go once approved again', async () => {
    expect((await as('boss', 'DELETE', '/project-bindings', { username: 'alien', projectId: '1' })).status).toBe(204);
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).execute()).map((i) => i.id);
    expect((await as('rev', 'POST', '/review/decisions', { imageIds: ids, action: 'approve' })).status).toBe(200);

    const uploads = async () => (await as('alien', 'GET', `/collections/${app.collections.alien}/uploads`)).body as { items: { state: string; error: string | null }[] };
    const held = await waitFor(uploads, (u) => u.items.length === 1 && u.items[0].state === 'waiting', 60_000);
    expect(held.items[0].error).toMatch(/Zooniverse project 1 is not approved for alien .*an EPO admin approves it/);
    expect(zoo.allSubjects()).toHaveLength(0);

    expect((await as('boss', 'POST', '/project-bindings', { username: 'alien', projectId: '1', reason: 'approved again' })).status).toBe(201);
    // The sweep (every 5 s here) offers the waiting batch again.
    await waitFor(uploads, (u) => u.items[0]?.state === 'uploaded', 60_000);
    expect(zoo.allSubjects()).toHaveLength(2);
    const kinds = (await app.s.db.selectFrom('events').select('kind').where('collection_id', '=', app.collections.alien).execute()).map((e) => e.kind);
    expect(kinds).toContain('batch_waiting');
  }, 120_000);
});

describe("the owner's data rights", () => {
  it('are re-read from the identity provider at each request and recorded on the owner’s collections', async () => {
    const rights = async () => (await app.s.db.selectFrom('collections').select('owner_data_rights').where('id', '=', app.collections.alien).executeTakeFirstOrThrow()).owner_data_rights;
    expect((await as('alien', 'GET', `/collections/${app.collections.alien}`)).status).toBe(200);
    await waitFor(rights, (r) => r.join(' ') === 'dp1 dr1');
    const before = app.op.accounts.alien.dataRights;
    app.op.accounts.alien.dataRights = 'dp1';
    try {
      expect((await as('alien', 'GET', `/collections/${app.collections.alien}`)).status).toBe(200);
      await waitFor(rights, (r) => r.join(' ') === 'dp1');
      const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'detail']).where('collection_id', '=', app.collections.alien).where('action', '=', 'owner_data_rights').orderBy('id').execute();
      expect(audit.at(-1)).toEqual({ actor: 'identity:alien', detail: { from: ['dp1', 'dr1'], to: ['dp1'] } });
    } finally {
      app.op.accounts.alien.dataRights = before;
    }
  }, 60_000);
});
