import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';

/*
 * GET /collections/{id}/results/status and POST /collections/{id}/results/backfill
 * through the whole bridge (its OIDC, its composition root, the Panoptes
 * double as Zooniverse): who may read and ask, 202 with the state and the
 * next possible time, 409 naming it when Panoptes' one-a-day window is used.
 */
describe('results status and backfill API', () => {
  let app: BridgeApp;
  let zoo: PanoptesServerDouble;
  beforeAll(async () => {
    zoo = await PanoptesServerDouble.start();
    app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 2, zooniverse: { baseUrl: zoo.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET } });
    await app.s.db.updateTable('collections').set({ zooniverse_project_id: '1' }).where('id', '=', app.collections.alien).execute();
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await zoo?.close();
  });

  it('the owner reads the status and asks for a backfill once a day; others are refused', async () => {
    const id = app.collections.alien;
    const before = await app.call('alien', 'GET', `/collections/${id}/results/status`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ collectionId: id, projectId: '1', classifications: 0, reducedSubjects: 0, pulling: true });

    const asked = await app.call('alien', 'POST', `/collections/${id}/results/backfill`);
    expect(asked.status).toBe(202);
    expect(asked.body.state).toBe('requested');
    expect(Date.parse(asked.body.nextPossibleAt)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(zoo.requestsTo('createClassificationsExport')).toHaveLength(1);

    const status = await app.call('alien', 'GET', `/collections/${id}/results/status`);
    expect(status.body.export).toMatchObject({ state: 'requested', nextPossibleAt: asked.body.nextPossibleAt });

    // The export is built (the double finishes it on the next read) and is older than nothing loaded: 'ready', loaded, no new request.
    const again = await app.call('alien', 'POST', `/collections/${id}/results/backfill`);
    expect([202, 409]).toContain(again.status);
    if (again.status === 409) expect(JSON.stringify(again.body)).toMatch(/next export is possible from/);
    else expect(again.body.state).toMatch(/^(ready|creating)$/);
    expect(zoo.requestsTo('createClassificationsExport')).toHaveLength(1);

    expect((await app.call('rev', 'POST', `/collections/${id}/results/backfill`)).status).toBe(403);
    expect((await app.call('rev', 'GET', `/collections/${id}/results/status`)).status).toBe(403);
    expect((await app.call('other', 'GET', `/collections/${id}/results/status`)).status).toBe(403);
    expect((await app.call('boss', 'GET', `/collections/${id}/results/status`)).status).toBe(200);
  }, 60_000);

  it('says so when the collection has no Zooniverse project', async () => {
    const r = await app.call('rev', 'POST', `/collections/${app.collections.rev}/results/backfill`);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/no Zooniverse project/);
  });
});
