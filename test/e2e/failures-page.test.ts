import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeAppOnZooniverse, type BridgeApp } from '../support/bridge-app.js';
import type { PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';

/**
 * The page's "What stopped" list, as a PI uses it in Chromium: a failed
 * upload batch with its reason and a Retry button that takes it up again
 * until it ends uploaded, each subject once; a failed dataset named by its
 * type and dataId, with its own Retry. Reviewers see the list without buttons.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;

suite('what stopped, on the page', () => {
  let app: BridgeApp & { zoo: PanoptesServerDouble };
  let zoo: PanoptesServerDouble;
  let browser: Browser;
  const errors: string[] = [];
  beforeAll(async () => {
    app = await startBridgeAppOnZooniverse({ owners: ['alien'], stamps: 3, settings: { uploadMode: 'api' } });
    zoo = app.zoo;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A page signed in as `user` with a session made through the real provider; any console error is a page fault. */
  const pageAs = (user: string): Promise<Page> => signedInPage(browser, app, user, '/review', errors);

  it('shows a failed batch and a failed dataset with their reasons; the PI retries both from the page, and the batch ends uploaded once', async () => {
    const cid = app.collections.alien;
    // Zooniverse answers the subject set's creation with something the bridge cannot use: the batch fails for good.
    zoo.faults.push({ route: 'createSubjectSet', kind: 'replace-body', body: { subject_sets: [{ id: '999' }] } });
    const bearer = await app.bearer('rev');
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', cid).execute()).map((i) => i.id);
    const decided = await fetch(`${app.url}/api/v1/review/decisions`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds: ids, action: 'approve' }) });
    expect(decided.status).toBe(200);
    await waitFor(() => app.s.db.selectFrom('upload_batches').select('state').where('collection_id', '=', cid).execute(), (r) => r[0]?.state === 'failed', 60_000);
    // A dataset that could not be retrieved (its file went away), as the retriever records it.
    const [art] = await app.s.repos.artifacts.insertDiscovered(cid, [{ id: '7d1c0a44-5b1e-4c84-9d7e-000000000001', datasetType: 'zooniverse_cutout', run: 'u/alien/zoo-review', dataId: { band: 'r', tract: 9813, patch: 77 }, cursor: 'zzz' }], 'test');
    await app.s.repos.artifacts.markFailed(art, "'u/alien/zoo-review/gone.fits' is no longer in the retrieve-artifacts directory.", 'retriever');

    // A reviewer sees what stopped, but has nothing to press.
    const rev = await pageAs('rev');
    await rev.locator('#failures').waitFor({ state: 'visible' });
    expect(await rev.locator('#failures-list').innerText()).toMatch(/Upload batch 1 \(api\) failed: .*cannot read/);
    expect(await rev.locator('#failures button').count()).toBe(0);

    const pi = await pageAs('alien');
    await pi.locator('#failures').waitFor({ state: 'visible' });
    const list = pi.locator('#failures-list');
    expect(await list.innerText()).toMatch(/Dataset zooniverse_cutout band=r patch=77 tract=9813: 'u\/alien\/zoo-review\/gone\.fits' is no longer/);
    expect(await list.innerText()).toMatch(/dataset 7d1c0a44-5b1e-4c84-9d7e-000000000001/);

    await pi.locator('#failures').screenshot({ path: 'test/e2e/__screenshots__/failures-list.png' });
    await pi.getByRole('button', { name: 'Retry upload batch 1' }).click();
    await expect.poll(() => pi.locator('#status').innerText(), { timeout: 20_000 }).toMatch(/Upload batch 1: 1 taken up again/);
    await expect.poll(() => pi.locator('#uploads-list').innerText(), { timeout: 60_000, interval: 250 }).toMatch(/3\/3 linked · uploaded/);
    expect(zoo.allSubjects()).toHaveLength(3);
    expect(zoo.duplicateExternalIds()).toEqual([]);

    await pi.getByRole('button', { name: 'Retry zooniverse_cutout band=r patch=77 tract=9813' }).click();
    // Its own status line: the batch's earlier "taken up again" must not stand in for it.
    await expect.poll(() => pi.locator('#status').innerText(), { timeout: 20_000 }).toMatch(/Dataset zooniverse_cutout band=r patch=77 tract=9813: 1 taken up again/);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', cid).where('action', 'in', ['retry_upload_batch', 'retry_artifact']).orderBy('id').execute();
    expect(audit).toEqual([{ actor: 'alien', action: 'retry_upload_batch' }, { actor: 'alien', action: 'retry_artifact' }]);
    await pi.screenshot({ path: 'test/e2e/__screenshots__/failures.png', fullPage: false });
    expect(errors).toEqual([]);
  }, 180_000);
});
