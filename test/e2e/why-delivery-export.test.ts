import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import JSZip from 'jszip';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seriousViolations } from '../support/axe.js';
import { waitFor } from '../support/wait.js';

/**
 * What a reviewer and a PI read about a collection, in Chromium: "why" its
 * images are where they are (each outcome with its count, reason, next step
 * and embargo end) in the review page's sidebar, read again after a decision,
 * and in the PI dashboard's pipeline; the poll's "delivery" in the picker
 * (the API's batch); and, for a collection without a Zooniverse project, an
 * upload box that says nothing is uploaded and links to the export and to
 * the PI dashboard. axe on each state at 1280 and 390 px.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '__screenshots__');
const LONG = 180_000;
const poll = <T>(fn: () => Promise<T> | T, timeout = 30_000) => expect.poll(fn, { timeout, interval: 100 });
const REASON = 'a satellite trail, not a galaxy';
const HOUR = 3_600_000;

suite('why, deliveries and the export, on the pages', () => {
  let app: BridgeApp;
  let browser: Browser;
  let cid: string;
  let ids: string[];
  const problems: string[] = [];

  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien'], stamps: 6 });
    cid = app.collections.alien;
    ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', cid).orderBy('stamp_index').execute()).map((r) => r.id);
    browser = await launchChromium();
    await mkdir(SHOTS, { recursive: true });
  }, LONG);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const pageAs = (user: string, path: string, viewport = { width: 1280, height: 800 }): Promise<Page> =>
    signedInPage(browser, app, user, path, problems, { viewport, locale: 'en-GB', timezoneId: 'UTC', acceptDownloads: true });

  async function axe(page: Page, state: string) {
    expect({ state, found: await seriousViolations(page) }).toEqual({ state, found: [] });
  }

  /** The why rows as a user reads them, by outcome. */
  const whyRows = (page: Page, scope: string) =>
    page.$$eval(`${scope} .why-group`, (els) => Object.fromEntries(els.map((e) => [(e as unknown as { dataset: { outcome: string } }).dataset.outcome, (e as unknown as { innerText: string }).innerText.replace(/\s+/g, ' ').trim()])));

  it('names the poll a delivery, shows why with the next step, and reads it again after a decision', async () => {
    const page = await pageAs('rev', `/review?collection=${cid}`);
    await page.locator('#grid[aria-busy="false"] .card').first().waitFor();

    // The picker: "Delivery", with what a delivery is.
    const picker = page.getByLabel('Delivery', { exact: true });
    await poll(() => picker.isEnabled()).toBe(true);
    const options = await picker.locator('option').allInnerTexts();
    expect(options[0]).toBe('All deliveries');
    expect(options.slice(1)).toEqual([expect.stringMatching(/^Delivery 1 · \d{1,2} [A-Z][a-z]{2} \d{4} · 6 pending$/)]);
    expect(await picker.getAttribute('aria-describedby')).toBe('batch-hint');
    expect(await page.locator('#batch-hint').innerText()).toBe('A delivery is what one poll of the Butler found.');

    // Why: every image sent to review by the policy. Nobody needs to act, so one line of counts; opened, what happens next.
    await page.locator('#why').waitFor({ state: 'visible' });
    expect(await page.getByRole('heading', { name: 'Outcomes and next steps' }).count()).toBe(1);
    expect(await page.locator('#why').getAttribute('open')).toBeNull();
    expect(await page.locator('#why > summary h3').textContent()).toBe('Outcomes and next steps');
    expect(await page.locator('#why .why-brief').innerText()).toBe('6 to EPO review');
    await page.locator('#why > summary').click();
    expect(await page.locator('#why .why-total').innerText()).toBe('6 images. Largest group first:');
    await axe(page, 'why opened, one group');
    expect((await whyRows(page, '#why')).pending_review).toMatch(/^6 images sent to EPO review by the policy Why: every image is checked by an EPO reviewer before publication Next step: an EPO reviewer looks at each image; nothing to do until then$/);

    // A rejection from the page: the summary follows without a reload.
    await page.locator('#grid .card').first().locator('.thumb').click();
    await page.keyboard.press('r');
    await page.locator('#reject-reason').fill(REASON);
    await page.locator('#reject-confirm').click();
    await poll(() => page.locator('#status').innerText()).toMatch(/1 rejected/);
    await poll(async () => (await whyRows(page, '#why')).reviewer_rejected).toBe(`1 image rejected by a reviewer Why: ${REASON} Next step: an EPO reviewer rejected these for the reason given; send corrected cutouts, or ask the reviewer to undo it`);
    expect((await whyRows(page, '#why')).pending_review).toMatch(/^5 images sent to EPO review/);
    expect(problems).toEqual([]);
    await page.context().close();
  }, LONG);

  it('gives each outcome its reason, next step and embargo end, on the review sidebar and the PI pipeline', async () => {
    // Two approved by a reviewer (published at once here), one failed stamp, and a prompt release set by an admin:
    // of the two left, the recently observed one is under its embargo, the old one waits for the panel.
    const rejected = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', cid).where('state', '=', 'rejected').execute()).map((r) => r.id);
    const rest = ids.filter((i) => !rejected.includes(i));
    expect((await app.call('rev', 'POST', '/review/decisions', { imageIds: rest.slice(0, 2), action: 'approve' })).status).toBe(200);
    await waitFor(() => app.s.db.selectFrom('images').select('state').where('id', 'in', rest.slice(0, 2)).execute(), (r) => r.every((i) => i.state === 'published'), 60_000);
    await app.s.db.updateTable('images').set({ state: 'failed', verdict: null, error: 'stamp 3 of i: cannot be read\ndetails follow' }).where('id', '=', rest[2]).execute();
    const newest = new Date(Math.floor((Date.now() - 10 * HOUR) / 1000) * 1000);
    await app.s.db.updateTable('images').set({ observed_at: newest }).where('id', '=', rest[3]).execute();
    await app.s.db.updateTable('images').set({ observed_at: new Date(Date.now() - 500 * HOUR) }).where('id', '=', rest[4]).execute();
    expect((await app.call('boss', 'POST', `/collections/${cid}/release`, { release: 'prompt', proprietary: true, embargoHours: 80, reason: 'these are prompt images' })).status).toBe(200);
    type Why = { groups: { outcome: string; until: string | null }[] };
    const why = await waitFor(async () => (await app.call('alien', 'GET', `/collections/${cid}/why`)).body as Why, (w) => w.groups.some((g) => g.outcome === 'held') && w.groups.some((g) => g.outcome === 'rejected'), 30_000);
    const until = why.groups.find((g) => g.outcome === 'rejected')!.until!;
    expect(until).toBe(new Date(newest.getTime() + 80 * HOUR).toISOString());
    const ends = `${until.slice(0, 16).replace('T', ' ')} UTC`;
    const expected = (rows: Record<string, string>) => {
      expect(rows.rejected).toMatch(new RegExp(`^1 image rejected by the policy Why: prompt data is under its 80-hour embargo.* Next step: embargo ends ${ends}; then ask the Data Rights Panel to approve this collection \\(an EPO admin records it\\) Embargo ends: \\d`));
      expect(rows.held).toBe('1 image held by the policy Why: waiting for Data Rights Panel approval: the data is proprietary Next step: ask the Data Rights Panel to approve this collection (an EPO admin records it)');
      expect(rows.failed).toBe('1 image failed to convert Why: stamp 3 of i: cannot be read Next step: fix or remove the file, then Retry');
      expect(rows.reviewer_rejected).toMatch(/^1 image rejected by a reviewer Why: a satellite trail/);
      // Approved by a reviewer: a group of its own, not "sent to EPO review", and nothing left to do.
      expect(rows.reviewer_approved).toMatch(/^2 images approved by an EPO reviewer Why: /);
      expect(rows.reviewer_approved).not.toMatch(/Next step/);
      expect(rows.pending_review).toBeUndefined();
    };

    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const rev = await pageAs('rev', `/review?collection=${cid}`, viewport);
      await rev.locator('#grid[aria-busy="false"]').waitFor({ state: 'attached' });
      await poll(async () => Object.keys(await whyRows(rev, '#why')).sort()).toEqual(['failed', 'held', 'rejected', 'reviewer_approved', 'reviewer_rejected']);
      // A reviewer gets one line of counts per outcome (the audit trail stays within reach); a click opens it.
      expect(await rev.locator('#why').getAttribute('open')).toBeNull();
      expect(await rev.locator('#why .why-brief').innerText()).toBe('2 approved in review · 1 failed · 1 held · 1 rejected by the policy · 1 rejected by a reviewer');
      await rev.locator('#why > summary').click();
      // The narrow sidebar shows the three largest groups; the other two are a click away.
      expect(await rev.locator('#why > div > .why-list > .why-group').count()).toBe(3);
      const more = rev.locator('#why .why-more summary');
      expect(await more.innerText()).toBe('2 more groups (2 images)');
      await more.click();
      expected(await whyRows(rev, '#why'));
      // The embargo end as a machine-readable time.
      expect(await rev.locator('#why .why-rejected time').getAttribute('datetime')).toBe(until);
      await axe(rev, `review sidebar with why at ${viewport.width} px`);
      await rev.locator('.sidebar').screenshot({ path: join(SHOTS, `why-review-sidebar-${viewport.width}.png`) });
      expect(Number(await rev.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'))).toBeLessThanOrEqual(0);
      await rev.context().close();

      const pi = await pageAs('alien', `/pi#c=${cid}`, viewport);
      await pi.locator('#pipeline #pi-why').waitFor();
      expect(await pi.locator('#pipeline').getByRole('heading', { name: 'Outcomes and next steps' }).count()).toBe(1);
      expected(await whyRows(pi, '#pi-why'));
      await axe(pi, `PI pipeline with why at ${viewport.width} px`);
      await pi.locator('#part-pipeline').screenshot({ path: join(SHOTS, `why-pi-pipeline-${viewport.width}.png`) });
      expect(Number(await pi.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'))).toBeLessThanOrEqual(0);
      await pi.context().close();
    }
    expect(problems).toEqual([]);
  }, LONG);

  it('says plainly that nothing is uploaded without a project, and links to the export and the PI dashboard', async () => {
    // A reviewer is told who can act, and where.
    const rev = await pageAs('rev', `/review?collection=${cid}`);
    await rev.locator('#uploads').waitFor({ state: 'visible' });
    await poll(() => rev.locator('#uploads-list').innerText()).toMatch(/2 published/);
    const revText = await rev.locator('#uploads-list').innerText();
    expect(revText).toMatch(/Nothing is uploaded to Zooniverse: this collection has no Zooniverse project\./);
    expect(revText).toMatch(/The owner can download the export and add the images in the Project Builder, or set a project on the PI dashboard\./);
    expect(revText).toMatch(/Upload batch 1: 2 subjects, ready for the export, not uploaded/);
    expect(revText).not.toMatch(/linked/);
    expect(await rev.locator('#uploads-export').count()).toBe(0);
    expect(await rev.getByRole('link', { name: 'set a project on the PI dashboard' }).getAttribute('href')).toBe(`/pi#c=${cid}`);
    await axe(rev, 'upload box without a project, reviewer');
    await rev.context().close();

    // The owner gets the export itself, at phone width too.
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const pi = await pageAs('alien', `/review?collection=${cid}`, viewport);
      await pi.locator('#uploads-export').waitFor();
      // The owner, whose images wait on someone, gets the why opened.
      await poll(() => pi.locator('#why').getAttribute('open')).toBe('');
      expect(await pi.locator('#why .why-held').innerText()).toMatch(/Next step: ask the Data Rights Panel/);
      const link = pi.getByRole('link', { name: 'Download the export' });
      expect(await link.getAttribute('href')).toBe(`/api/v1/collections/${cid}/export`);
      expect(await pi.locator('#uploads-list').innerText()).toMatch(/Download the export \(the approved images and manifest\.csv\) to add them in the Project Builder yourself, or set a project on the PI dashboard\./);
      await axe(pi, `upload box without a project, owner at ${viewport.width} px`);
      await pi.locator('#uploads').screenshot({ path: join(SHOTS, `uploads-no-project-${viewport.width}.png`) });
      if (viewport.width === 1280) {
        const [download] = await Promise.all([pi.waitForEvent('download'), link.click()]);
        const file = join(tmpdir(), `why-export-${Date.now()}.zip`);
        await download.saveAs(file);
        const zip = await JSZip.loadAsync(await readFile(file));
        await rm(file, { force: true });
        expect((await zip.file('manifest.csv')!.async('string')).trim().split('\n')).toHaveLength(3);
        // The dashboard link leads to the collection, where its project is set.
        await pi.getByRole('link', { name: 'set a project on the PI dashboard' }).click();
        await pi.locator('#detail-title').waitFor();
        expect(await pi.locator('#detail-title').innerText()).toBe('u/alien/zoo-review');
        await poll(() => pi.locator('#pi-not-uploaded').innerText()).toMatch(/^Nothing is uploaded to Zooniverse: this collection has no Zooniverse project\. Set one under Upload settings/);
        await axe(pi, 'PI pipeline without a project');
      }
      await pi.context().close();
    }
    expect(problems).toEqual([]);
  }, LONG);
});
