import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seriousViolations } from '../support/axe.js';

/**
 * The admin page (/admin) as EPO admins use it in Chromium: a panel approval
 * recorded with its reason (and the count of images sent back to the
 * policy), a delegation added and revoked, a failed dataset in "What
 * stopped" retried from its button; each change confirmed first and audited.
 * A reviewer who opens the page is told it is for admins. axe finds nothing
 * serious in any state, wide or phone-sized.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = 'test/e2e/__screenshots__';
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

suite('the admin page', () => {
  let app: BridgeApp;
  let browser: Browser;
  const errors: string[] = [];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBridgeApp({ owners: ['alien'], stamps: 2, sweepSeconds: 3600 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** /admin signed in as `user` through the real provider; nothing but the bridge is reachable. */
  const pageAs = (user: string): Promise<Page> => signedInPage(browser, app, user, '/admin', errors, { viewport: WIDE });

  /** axe at both sizes, in the state the page is in; back to the wide size after. */
  async function accessible(page: Page, state: string) {
    for (const size of [WIDE, PHONE]) {
      await page.setViewportSize(size);
      expect(await seriousViolations(page), `${state} at ${size.width} px`).toEqual([]);
    }
    await page.setViewportSize(WIDE);
  }

  const status = (page: Page) => page.locator('#status').innerText();

  it('a reviewer is told the page is for EPO admins, with no tables', async () => {
    const page = await pageAs('rev');
    await page.locator('#not-admin').waitFor({ state: 'visible' });
    expect(await page.locator('#not-admin h2').innerText()).toBe('This page is for EPO admins');
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.locator('#collections').isVisible()).toBe(false);
    expect((await app.call('rev', 'GET', '/failures')).status).toBe(403);
    await accessible(page, 'non-admin view');
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/admin-not-admin-390.png`, fullPage: true });
    await page.context().close();
  }, 60_000);

  it('an admin records a panel approval, adds and revokes a delegation, and retries a failed dataset', async () => {
    const cid = app.collections.alien;
    // A dataset that could not be retrieved (its file went away), as the retriever records it.
    const [art] = await app.s.repos.artifacts.insertDiscovered(cid, [{ id: '7d1c0a44-5b1e-4c84-9d7e-000000000003', datasetType: 'zooniverse_cutout', run: 'u/alien/zoo-review', dataId: { band: 'r', tract: 9813, patch: 77 }, cursor: 'zzz' }], 'test');
    await app.s.repos.artifacts.markFailed(art, "'u/alien/zoo-review/gone.fits' is no longer in the retrieve-artifacts directory.", 'retriever');

    const page = await pageAs('boss');
    const row = page.locator('#collections-body tr', { hasText: 'u/alien/zoo-review' });
    await row.waitFor();
    await page.locator('#stopped-body table').waitFor();
    await page.locator('#releases-body table').waitFor();
    expect(await row.innerText()).toMatch(/dp0\.2[\s\S]*not approved[\s\S]*deployment default/);
    expect(await page.locator('#releases-body').innerText()).toMatch(/built-in default mapping/);
    expect(await page.locator('h1:visible, h2:visible').allInnerTexts()).toEqual(['Administration', 'Collections: panel approval, release and publishing delay', 'Release mapping', 'Delegations', 'Project bindings', 'What stopped']);
    await accessible(page, 'initial');
    await page.screenshot({ path: `${SHOTS}/admin-1280.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/admin-390.png`, fullPage: true });
    // Each section on its own too, legible at phone size.
    for (const id of ['collections', 'releases', 'delegations', 'stopped']) await page.locator(`#${id}`).screenshot({ path: `${SHOTS}/admin-390-${id}.png` });
    await page.setViewportSize(WIDE);

    // Panel approval: the form, then a confirmation naming the change, then the answer with the count sent back to the policy.
    await page.getByRole('button', { name: 'Panel approval for u/alien/zoo-review' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    expect(await dialog.getByLabel('Approved by the Data Rights Panel').isChecked()).toBe(true);
    await accessible(page, 'panel approval form');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    expect(await dialog.locator('.field-error:visible').innerText()).toMatch(/Reason is required/);
    await dialog.getByLabel(/^Reason/).fill('Data Rights Panel decision DRP-2026-14 of 3 December');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    expect(await dialog.locator('.confirm-summary').innerText()).toMatch(/Record the Data Rights Panel’s approval for u\/alien\/zoo-review \(owner alien\): panel approval changes from not approved to approved/);
    await accessible(page, 'panel approval confirmation');
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/admin-confirm-390.png` });
    await page.setViewportSize(WIDE);
    await dialog.getByRole('button', { name: 'Record the decision' }).click();
    await expect.poll(() => status(page), { timeout: 20_000 }).toMatch(/u\/alien\/zoo-review: panel approval recorded\. (\d+ images? go(es)? back to the policy|No image goes back to the policy)\./);
    expect(await page.locator('dialog[open]').count()).toBe(0);
    expect(await row.innerText()).toMatch(/\bapproved\b/);
    expect(await row.innerText()).not.toMatch(/not approved/);
    const saved = await app.s.db.selectFrom('collections').select('panel_approval').where('id', '=', cid).executeTakeFirstOrThrow();
    expect(saved.panel_approval).toBe('approved');
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'reason']).where('collection_id', '=', cid).where('action', '=', 'panel_approval').execute();
    expect(audit).toEqual([{ actor: 'boss', reason: 'Data Rights Panel decision DRP-2026-14 of 3 December' }]);
    await accessible(page, 'after a panel approval');

    // The other two forms of a collection open and pass axe too (then are cancelled: nothing changes).
    for (const name of ['Release for u/alien/zoo-review', 'Delay for u/alien/zoo-review']) {
      await page.getByRole('button', { name }).click();
      await page.locator('dialog[open]').waitFor();
      await accessible(page, `${name} form`);
      await page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();
    }
    expect(await app.s.db.selectFrom('audit_log').select('id').where('action', 'in', ['release_override', 'publish_delay']).execute()).toEqual([]);

    // A delegation, added and then revoked, each confirmed.
    const delegations = page.locator('#delegations');
    await delegations.getByLabel(/^PI \(RSP username\)/).fill('other');
    await delegations.getByLabel(/^Collection prefix/).fill('u/team-e2e/');
    await delegations.getByRole('button', { name: 'Delegate…' }).click();
    await page.locator('dialog[open]').waitFor();
    expect(await page.locator('dialog[open] .confirm-summary').innerText()).toBe('Let other register collections under u/team-e2e/. They will own what they register there.');
    await accessible(page, 'delegation confirmation');
    await page.locator('dialog[open]').getByRole('button', { name: 'Delegate the prefix' }).click();
    await expect.poll(() => status(page), { timeout: 20_000 }).toMatch(/Delegated: other may now register under u\/team-e2e\//);
    expect(await app.s.db.selectFrom('delegations').select(['username', 'prefix', 'granted_by']).execute()).toEqual([{ username: 'other', prefix: 'u/team-e2e/', granted_by: 'boss' }]);
    await page.getByRole('button', { name: "Revoke other's u/team-e2e/" }).click();
    expect(await page.locator('dialog[open] .confirm-summary').innerText()).toMatch(/^Revoke other's delegation of u\/team-e2e\//);
    await page.locator('dialog[open]').getByRole('button', { name: 'Revoke the delegation' }).click();
    await expect.poll(() => status(page), { timeout: 20_000 }).toMatch(/Delegation revoked: other no longer has u\/team-e2e\//);
    expect(await app.s.db.selectFrom('delegations').select('id').execute()).toEqual([]);
    expect((await app.s.db.selectFrom('audit_log').select(['actor', 'action']).where('action', 'in', ['delegate', 'undelegate']).orderBy('id').execute())).toEqual([{ actor: 'boss', action: 'delegate' }, { actor: 'boss', action: 'undelegate' }]);
    await accessible(page, 'after a delegation was revoked');

    // What stopped: the failed dataset with its reason; Retry queues it (audited under the admin's name).
    const stopped = page.locator('#stopped-body tr', { hasText: 'patch=77' });
    expect(await stopped.innerText()).toMatch(/Dataset zooniverse_cutout band=r patch=77 tract=9813[\s\S]*u\/alien\/zoo-review[\s\S]*'u\/alien\/zoo-review\/gone\.fits' is no longer in the retrieve-artifacts directory\./);
    expect(await page.locator('.stopped-summary').innerText()).toBe('1 thing stopped: 1 failed dataset, 0 failed stamps, 0 stopped upload batches.');
    expect(await page.locator('#stopped a[href="/admin/queues"]').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Retry Dataset zooniverse_cutout band=r patch=77 tract=9813 of u/alien/zoo-review' }).click();
    await expect.poll(() => status(page), { timeout: 20_000 }).toMatch(/Dataset zooniverse_cutout band=r patch=77 tract=9813 of u\/alien\/zoo-review: retry queued/);
    const retried = await app.s.db.selectFrom('audit_log').select(['actor', 'detail']).where('action', '=', 'retry_artifact').execute();
    expect(retried).toHaveLength(1);
    expect(retried[0].actor).toBe('boss');
    expect(JSON.stringify(retried[0].detail)).toContain(art.id);
    const moved = await app.s.db.selectFrom('transitions').select(['from_state', 'to_state', 'actor']).where('entity_id', '=', art.id).where('from_state', '=', 'failed').execute();
    expect(moved[0]).toEqual({ from_state: 'failed', to_state: 'discovered', actor: 'boss' });
    await accessible(page, 'after a retry');
    await page.screenshot({ path: `${SHOTS}/admin-after-1280.png`, fullPage: true });
    // Dark mode comes from the same custom properties; it stays legible.
    await page.emulateMedia({ colorScheme: 'dark' });
    await accessible(page, 'dark mode');
    await page.setViewportSize(PHONE);
    await page.locator('#stopped').screenshot({ path: `${SHOTS}/admin-dark-390-stopped.png` });
    await page.setViewportSize(WIDE);
    await page.screenshot({ path: `${SHOTS}/admin-dark-1280.png` });
    expect(errors).toEqual([]);
  }, 180_000);
});
