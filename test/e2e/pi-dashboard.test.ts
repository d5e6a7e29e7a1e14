import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seriousViolations } from '../support/axe.js';
import { waitFor } from '../support/wait.js';
import { COLOUR_PRESETS } from '../../src/imaging/colour/presets.js';

/**
 * The PI page (/pi) as a PI uses it in Chromium: register a collection with
 * the form after a colour preview (picking a preset), set a Zooniverse
 * project an admin approved and a webhook, send a test event the receiver
 * gets, see a failed file named and retry it, download the export, open the
 * takedown dialog, read the notifications. axe on every state, at 1280 and
 * 390 px; no console or page errors beyond the refusals the journey asks for.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = 'test/e2e/__screenshots__';

suite('the PI dashboard, in a browser', () => {
  let app: BridgeApp;
  let browser: Browser;
  let receiver: Server;
  let port = 0;
  const hooks: { headers: IncomingMessage['headers']; body: string }[] = [];
  const errors: string[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    port = (receiver.address() as AddressInfo).port;
    app = await startBridgeApp({ owners: ['alien'], stamps: 3, webhookAllowedHosts: '127.0.0.1' });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await new Promise((r) => receiver?.close(r));
  });

  const pageAs = (user: string, viewport: { width: number; height: number }, path = '/pi'): Promise<Page> => signedInPage(browser, app, user, path, errors, { viewport, acceptDownloads: true });

  async function axe(page: Page, state: string) {
    expect({ state, found: await seriousViolations(page) }).toEqual({ state, found: [] });
  }

  it('registers after a preview, sets project and webhook, tests it, retries a failed file, downloads the export', async () => {
    const pi = await pageAs('alien', { width: 1280, height: 900 });
    await pi.locator('#collections-list li').first().waitFor();
    expect(await pi.locator('#collections-list').innerText()).toMatch(/u\/alien\/zoo-review \(dp02\)/);
    await pi.locator('#notifications-list li').first().waitFor();
    await axe(pi, 'list');
    await pi.screenshot({ path: `${SHOTS}/pi-list-1280.png` });

    // The form, with what the API refuses shown next to its field.
    await pi.getByRole('button', { name: 'Register a collection' }).click();
    await pi.getByLabel('Butler repository').fill('bad repo');
    await pi.getByLabel('Run collection').fill('u/alien/zoo-review');
    await pi.getByLabel('Read from').selectOption('prefix');
    await pi.getByRole('button', { name: 'Register collection' }).click();
    const repo = pi.getByLabel('Butler repository');
    await expect.poll(() => repo.getAttribute('aria-invalid')).toBe('true');
    expect(await pi.evaluate('document.activeElement && document.activeElement.name')).toBe('repository');
    const described = (await repo.getAttribute('aria-describedby'))!.split(' ');
    expect(await pi.locator(`#${described.at(-1)}`).innerText()).toMatch(/Butler repository label/);
    await axe(pi, 'validation errors');
    await pi.screenshot({ path: `${SHOTS}/pi-register-errors-1280.png` });

    // Preview: every preset side by side; pick one.
    await repo.fill('dp03');
    await pi.getByRole('button', { name: 'Preview colours' }).click();
    await pi.locator('.preset-stamps img').first().waitFor({ timeout: 30_000 });
    const presets = await pi.locator('.preset-choice input[type=radio]').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    expect(presets).toEqual([...COLOUR_PRESETS]);
    expect(await pi.locator('.preset-stamps img').count()).toBe(presets.length * 3);
    await pi.getByRole('radio', { name: /^lupton/ }).check();
    await axe(pi, 'register form with preview');
    await pi.locator('#register').screenshot({ path: `${SHOTS}/pi-preview-1280.png` });
    await pi.getByRole('button', { name: 'Register collection' }).click();
    await pi.locator('#detail-title').waitFor();
    await expect.poll(() => pi.locator('#pi-status').innerText()).toMatch(/Registered u\/alien\/zoo-review/);
    const created = await app.s.db.selectFrom('collections').selectAll().where('repository', '=', 'dp03').where('name', '=', 'u/alien/zoo-review').executeTakeFirstOrThrow();
    expect(created.colour).toMatchObject({ preset: 'lupton' });
    const cid = created.id;

    // Settings: a project no admin approved is refused, saying how to get it approved; approved, it is saved.
    await pi.locator('#part-settings > summary').click();
    await pi.locator('#part-settings').getByLabel('Zooniverse project id').fill('5');
    await pi.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => pi.locator('#part-settings .field-error:not([hidden])').innerText()).toMatch(/not approved for alien: ask an EPO admin to approve it/);
    await axe(pi, 'settings with a refusal');
    expect((await app.call('boss', 'POST', '/project-bindings', { username: 'alien', projectId: '5', reason: 'e2e' })).status).toBe(201);
    await pi.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => pi.locator('#pi-status').innerText()).toMatch(/Settings saved: zooniverseProjectId/);
    expect((await app.call('alien', 'GET', `/collections/${cid}`)).body.zooniverseProjectId).toBe('5');

    // Webhook: the secret once, then a test event the receiver gets.
    await pi.locator('#part-webhook > summary').click();
    await pi.getByLabel('Webhook URL').fill(`http://127.0.0.1:${port}/hook`);
    await pi.getByRole('button', { name: 'Set webhook' }).click();
    await expect.poll(() => pi.locator('.secret').innerText()).toMatch(/^whsec_/);
    await pi.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => pi.locator('#pi-status').innerText()).toMatch(/Test event delivered: the receiver answered HTTP 200/);
    await waitFor(async () => hooks.filter((x) => x.headers['x-bridge-event'] === 'test'), (x) => x.length === 1, 10_000);
    await axe(pi, 'webhook');
    await pi.locator('#detail').screenshot({ path: `${SHOTS}/pi-settings-webhook-1280.png` });

    // A failed file, named by its dataset; retried from the page.
    const [art] = await app.s.repos.artifacts.insertDiscovered(cid, [{ id: '7d1c0a44-5b1e-4c84-9d7e-000000000002', datasetType: 'zooniverse_cutout', run: 'u/alien/zoo-review', dataId: { band: 'r', tract: 9813, patch: 77 }, cursor: 'zzz' }], 'test');
    await app.s.repos.artifacts.markFailed(art, "'u/alien/zoo-review/gone.fits' is no longer in the retrieve-artifacts directory.", 'retriever');
    await expect.poll(() => pi.locator('#pipeline').innerText(), { timeout: 40_000 }).toMatch(/zooniverse_cutout band=r patch=77 tract=9813: 'u\/alien\/zoo-review\/gone\.fits' is no longer/);
    await axe(pi, 'pipeline with a failure');
    await pi.locator('#detail').screenshot({ path: `${SHOTS}/pi-pipeline-1280.png` });
    await pi.getByRole('button', { name: 'Retry zooniverse_cutout band=r patch=77 tract=9813' }).click();
    await expect.poll(() => pi.locator('#pi-status').innerText()).toMatch(/taken up again/);

    // Export: once images are approved, the zip downloads.
    const ids = await waitFor(async () => (await app.s.db.selectFrom('images').select(['id', 'verdict']).where('collection_id', '=', cid).execute()), (r) => r.length === 3 && r.every((i) => i.verdict !== null), 60_000);
    expect((await app.call('rev', 'POST', '/review/decisions', { imageIds: ids.map((i) => i.id), action: 'approve' })).status).toBe(200);
    const link = pi.locator('#export-link');
    await link.waitFor({ timeout: 40_000 });
    const [download] = await Promise.all([pi.waitForEvent('download'), link.click()]);
    const file = join(tmpdir(), `pi-export-${Date.now()}.zip`);
    await download.saveAs(file);
    const zip = await JSZip.loadAsync(await readFile(file));
    await rm(file, { force: true });
    const manifest = await zip.file('manifest.csv')!.async('string');
    expect(manifest.trim().split('\n')).toHaveLength(4);
    for (const i of ids) expect(zip.file(`${i.id}.png`)).not.toBeNull();
    expect(download.suggestedFilename()).toBe('u-alien-zoo-review-export.zip');

    // Takedown asks first, naming what goes.
    await pi.locator('#pipeline').getByRole('button', { name: 'Take down…' }).waitFor({ timeout: 40_000 });
    await pi.locator('#pipeline').getByRole('button', { name: 'Take down…' }).click();
    await expect.poll(() => pi.locator('#confirm-dialog').innerText()).toMatch(/removes 3 published images of u\/alien\/zoo-review/);
    await axe(pi, 'takedown dialog');
    await pi.screenshot({ path: `${SHOTS}/pi-takedown-dialog-1280.png` });
    await pi.getByRole('button', { name: 'Cancel' }).click();

    // Notifications in words, files_retrieved among them.
    await pi.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => pi.locator('#notifications-list').innerText()).toMatch(/Your files were retrieved and can be safely removed from your collection/);
    await axe(pi, 'notifications');
    await pi.screenshot({ path: `${SHOTS}/pi-1280.png`, fullPage: true });

    // A phone-sized screen: the same states.
    const phone = await pageAs('alien', { width: 390, height: 844 }, `/pi#c=${cid}`);
    await phone.locator('#detail-title').waitFor();
    await phone.locator('#pipeline .stages').first().waitFor();
    await axe(phone, 'collection at 390 px');
    await phone.screenshot({ path: `${SHOTS}/pi-390.png`, fullPage: true });
    await phone.getByRole('button', { name: 'Register a collection' }).click();
    await phone.getByLabel('Butler repository').fill('dp1');
    await phone.getByLabel('Run collection').fill('u/alien/zoo-review');
    await phone.getByLabel('Read from').selectOption('prefix');
    await phone.getByRole('button', { name: 'Preview colours' }).click();
    await phone.locator('.preset-stamps img').first().waitFor({ timeout: 30_000 });
    await axe(phone, 'preview at 390 px');
    await phone.locator('#register').screenshot({ path: `${SHOTS}/pi-preview-390.png` });
    const overflow = Number(await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
    expect(overflow).toBeLessThanOrEqual(0);

    // Only the refusals the journey asked for reached the console (the 400 of the bad repository, the 403 of the unapproved project).
    const unexpected = errors.filter((e) => !/Failed to load resource: the server responded with a status of (400|403)/.test(e));
    expect(unexpected).toEqual([]);
  }, 300_000);
});
