import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { seriousViolations } from '../support/axe.js';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * Zooniverse project bindings in Chromium, from both sides: a PI asks for a
 * project on /pi; an admin sees the request waiting on /admin, approves it
 * (by keyboard), sees it listed as approved, and revokes it; a second
 * request is declined. Each step changes what both pages show, and the
 * consequence is read back over the API: the binding lists, and whether the
 * PI may set the project on a collection (200 while approved, 403 before
 * and after). axe finds nothing serious at 1280 or 390 px in any state.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = '/tmp';
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const PROJECT = '4242';

suite('project bindings on /pi and /admin', () => {
  let app: BridgeApp;
  let browser: Browser;
  const errors: string[] = [];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBridgeApp({ owners: ['alien'], stamps: 1, sweepSeconds: 3600 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function accessible(page: Page, state: string) {
    for (const size of [WIDE, PHONE]) {
      await page.setViewportSize(size);
      expect({ state, size: size.width, found: await seriousViolations(page) }).toEqual({ state, size: size.width, found: [] });
    }
    await page.setViewportSize(WIDE);
  }

  /** What the API says: the admin's lists, the PI's own view, and whether the PI may set the project on their collection. */
  async function consequence() {
    const approved = (await app.call('boss', 'GET', '/project-bindings')).body.items.map((b: { username: string; projectId: string }) => `${b.username}:${b.projectId}`);
    const waiting = (await app.call('boss', 'GET', '/project-binding-requests')).body.items.map((b: { username: string; projectId: string }) => `${b.username}:${b.projectId}`);
    const own = (await app.call('alien', 'GET', '/me/project-bindings')).body;
    const set = await app.call('alien', 'PATCH', `/collections/${app.collections.alien}`, { zooniverseProjectId: PROJECT });
    if (set.status === 200) expect((await app.call('alien', 'PATCH', `/collections/${app.collections.alien}`, { zooniverseProjectId: null })).status).toBe(200);
    return { approved, waiting, mine: { approved: own.approved.map((b: { projectId: string }) => b.projectId), requested: own.requested.map((b: { projectId: string }) => b.projectId) }, mayUse: set.status };
  }

  const adminStatus = (page: Page) => page.locator('#status').innerText();

  it('a PI asks, an admin approves, sees it approved, revokes it; another request is declined', async () => {
    expect(await consequence()).toEqual({ approved: [], waiting: [], mine: { approved: [], requested: [] }, mayUse: 403 });

    // The PI asks on their page.
    const pi = await signedInPage(browser, app, 'alien', '/pi', errors, { viewport: WIDE });
    const projects = pi.locator('#projects');
    await projects.locator('#projects-empty').waitFor({ state: 'visible' });
    await accessible(pi, 'PI: no project yet');
    await projects.getByLabel(/^Zooniverse project id/).fill(PROJECT);
    await projects.getByLabel(/^What the project is/).fill('Rubin Galaxy Hunters: tidal features in DP1 cutouts');
    await projects.getByRole('button', { name: 'Ask an admin' }).click();
    await expect.poll(() => pi.locator('#pi-status').innerText()).toMatch(new RegExp(`Asked: an EPO admin will see your request for project ${PROJECT}`));
    await expect.poll(() => projects.locator('#projects-list').innerText()).toMatch(new RegExp(`Project ${PROJECT}\\s*Waiting for an admin`));
    await accessible(pi, 'PI: request waiting');
    await pi.setViewportSize(PHONE);
    await projects.screenshot({ path: `${SHOTS}/bindings-pi-waiting-390.png` });
    await pi.setViewportSize(WIDE);
    expect(await consequence()).toEqual({ approved: [], waiting: [`alien:${PROJECT}`], mine: { approved: [], requested: [PROJECT] }, mayUse: 403 });

    // The admin sees it waiting, with the PI's words, and approves it with the keyboard only.
    const admin = await signedInPage(browser, app, 'boss', '/admin', errors, { viewport: WIDE });
    const requests = admin.locator('#binding-requests');
    const row = requests.locator('tr', { hasText: 'Rubin Galaxy Hunters' });
    await row.waitFor();
    expect(await row.innerText()).toMatch(new RegExp(`alien\\s+${PROJECT}\\s+Waiting for approval\\s+Rubin Galaxy Hunters: tidal features in DP1 cutouts`));
    expect(await requests.locator('h3').innerText()).toBe('Requests waiting for an answer (1)');
    expect(await admin.locator('#binding-approved').innerText()).toMatch(/No Zooniverse project is approved for any PI yet/);
    await accessible(admin, 'admin: request waiting');
    await admin.screenshot({ path: `${SHOTS}/bindings-admin-waiting-1280.png`, fullPage: true });
    await admin.setViewportSize(PHONE);
    await admin.locator('#bindings').screenshot({ path: `${SHOTS}/bindings-admin-waiting-390.png` });
    await admin.setViewportSize(WIDE);

    await admin.getByRole('button', { name: `Approve project ${PROJECT} for alien…` }).focus();
    await admin.keyboard.press('Enter');
    const dialog = admin.locator('dialog[open]');
    await dialog.waitFor();
    expect(await dialog.locator('h2').innerText()).toBe(`Approve project ${PROJECT} for alien`);
    expect(await dialog.innerText()).toMatch(/alien asked: “Rubin Galaxy Hunters: tidal features in DP1 cutouts”/);
    await accessible(admin, 'admin: approve form');
    // The reason field has focus; Enter without one is refused in words.
    await admin.keyboard.press('Enter');
    expect(await dialog.locator('.field-error:visible').innerText()).toMatch(/Reason is required/);
    await admin.keyboard.type('Project owner confirmed by EPO, ticket EPO-512');
    await admin.keyboard.press('Enter');
    await expect.poll(() => dialog.locator('.confirm-summary').innerText()).toBe(`Approve Zooniverse project ${PROJECT} for alien, as they asked: they may then set it on their collections and upload to it. Reason: "Project owner confirmed by EPO, ticket EPO-512".`);
    await accessible(admin, 'admin: approve confirmation');
    // From the summary: Cancel, Back, then the confirming button.
    for (let i = 0; i < 3; i++) await admin.keyboard.press('Tab');
    expect(await admin.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Approve the project');
    await admin.keyboard.press('Enter');
    await expect.poll(() => adminStatus(admin), { timeout: 20_000 }).toBe(`Project ${PROJECT} approved for alien.`);
    expect(await admin.locator('dialog[open]').count()).toBe(0);
    await expect.poll(() => requests.innerText()).toMatch(/No PI is waiting for a project approval\./);
    const approvedRow = admin.locator('#binding-approved tr', { hasText: PROJECT });
    expect(await approvedRow.innerText()).toMatch(new RegExp(`alien\\s+${PROJECT}\\s+Approved\\s+boss`));
    await accessible(admin, 'admin: approved');
    expect(await consequence()).toEqual({ approved: [`alien:${PROJECT}`], waiting: [], mine: { approved: [PROJECT], requested: [] }, mayUse: 200 });
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action', 'reason']).where('action', 'in', ['request_project_binding', 'approve_project_binding']).orderBy('id').execute();
    expect(audit).toEqual([
      { actor: 'alien', action: 'request_project_binding', reason: 'Rubin Galaxy Hunters: tidal features in DP1 cutouts' },
      { actor: 'boss', action: 'approve_project_binding', reason: 'Project owner confirmed by EPO, ticket EPO-512' },
    ]);
    // The PI's page says so after a reload.
    await pi.reload();
    await expect.poll(() => pi.locator('#projects-list').innerText()).toMatch(new RegExp(`Project ${PROJECT}\\s*Approved\\s*by boss`));
    await accessible(pi, 'PI: approved');

    // Revoked: gone from the approved list, and the PI can no longer set it.
    await admin.getByRole('button', { name: `Revoke project ${PROJECT} of alien` }).click();
    expect(await admin.locator('dialog[open] .confirm-summary').innerText()).toMatch(new RegExp(`^Withdraw Zooniverse project ${PROJECT} from alien`));
    await accessible(admin, 'admin: revoke confirmation');
    await admin.locator('dialog[open]').getByRole('button', { name: 'Withdraw the approval' }).click();
    await expect.poll(() => adminStatus(admin), { timeout: 20_000 }).toBe(`Project ${PROJECT} withdrawn from alien.`);
    await expect.poll(() => admin.locator('#binding-approved').innerText()).toMatch(/Approved projects \(0\)\s*No Zooniverse project is approved for any PI yet\./);
    await accessible(admin, 'admin: revoked');
    expect(await consequence()).toEqual({ approved: [], waiting: [], mine: { approved: [], requested: [] }, mayUse: 403 });
    await pi.reload();
    await projects.locator('#projects-empty').waitFor({ state: 'visible' });

    // A second request, declined with a reason: it leaves the admin's list and the PI's.
    expect((await app.call('alien', 'POST', '/project-binding-requests', { projectId: '777', reason: 'a project I do not own' })).status).toBe(201);
    await admin.reload();
    await admin.getByRole('button', { name: 'Decline project 777 for alien…' }).click();
    await admin.locator('dialog[open]').getByLabel(/^Reason/).fill('Not an EPO project: ask its owner to add EPO as collaborator first');
    await admin.locator('dialog[open]').getByRole('button', { name: 'Continue' }).click();
    await accessible(admin, 'admin: decline confirmation');
    await admin.locator('dialog[open]').getByRole('button', { name: 'Decline the request' }).click();
    await expect.poll(() => adminStatus(admin), { timeout: 20_000 }).toBe('Request declined: project 777 stays unapproved for alien.');
    await expect.poll(() => requests.innerText()).toMatch(/No PI is waiting for a project approval\./);
    expect((await app.call('alien', 'GET', '/me/project-bindings')).body).toEqual({ approved: [], requested: [] });
    expect((await app.s.db.selectFrom('audit_log').select(['actor', 'reason']).where('action', '=', 'decline_project_binding_request').execute())).toEqual([{ actor: 'boss', reason: 'Not an EPO project: ask its owner to add EPO as collaborator first' }]);
    await admin.screenshot({ path: `${SHOTS}/bindings-admin-after-1280.png`, fullPage: true });

    // Only the refusals the journey asked for reached the console (none: every refusal here was over the API).
    expect(errors).toEqual([]);
    await pi.context().close();
    await admin.context().close();
  }, 180_000);
});
