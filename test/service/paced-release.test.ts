import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';

/**
 * Paced uploads through the real job system: the second batch waits for
 * volunteers to finish the first set, and the sweep (every 5 s here) takes
 * it up once they have, with no job left open while it waits.
 */
let app: BridgeApp;
let zoo: PanoptesServerDouble;

beforeAll(async () => {
  zoo = await PanoptesServerDouble.start();
  app = await startBridgeApp({
    owners: ['alien'],
    stamps: 4,
    zooniverse: { baseUrl: zoo.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET },
    settings: { zooniverseProjectId: '1', uploadMode: 'api', maxBatchSize: 2, oneIncompleteSet: true },
  });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await zoo?.close();
});

describe('paced release', () => {
  it('uploads the second set only after volunteers finish the first', async () => {
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).execute()).map((i) => i.id);
    const approve = await fetch(`${app.url}/api/v1/review/decisions`, { method: 'POST', headers: { authorization: `Bearer ${await app.bearer('rev')}`, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds: ids, action: 'approve' }) });
    expect(approve.status).toBe(200);
    const uploads = async () => (await (await fetch(`${app.url}/api/v1/collections/${app.collections.alien}/uploads`, { headers: { authorization: `Bearer ${await app.bearer('alien')}` } })).json()) as { settled: boolean; items: { seq: number; state: string; error: string | null; subjectSetId: string | null }[] };

    // The PI sees batch 1 uploaded and batch 2 waiting, with the reason.
    const first = await waitFor(uploads, (u) => u.items.length === 2 && u.items.some((b) => b.state === 'waiting'));
    const [two, one] = first.items;
    expect(one).toMatchObject({ seq: 1, state: 'uploaded' });
    expect(two).toMatchObject({ seq: 2, state: 'waiting', subjectSetId: null });
    expect(two.error).toMatch(/to be finished by volunteers: it is not linked to any workflow yet/);
    expect(first.settled).toBe(true);
    expect(zoo.allSubjects()).toHaveLength(2);

    // Volunteers finish set 1; the sweep notices and batch 2 goes up.
    zoo.setCompleteness(one.subjectSetId!, '9', 1);
    const done = await waitFor(uploads, (u) => u.items.every((b) => b.state === 'uploaded'), 60_000);
    expect(done.items[0].subjectSetId).not.toBe(one.subjectSetId);
    expect(zoo.setMembers(done.items[0].subjectSetId!)).toHaveLength(2);
    expect(zoo.duplicateExternalIds()).toEqual([]);
    const kinds = (await app.s.db.selectFrom('events').select('kind').where('collection_id', '=', app.collections.alien).orderBy('id').execute()).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'batch_waiting')).toEqual(['batch_waiting']);
    expect(kinds.filter((k) => k === 'batch_uploaded')).toHaveLength(2);
  }, 120_000);
});
