import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seriousViolations } from '../support/axe.js';
import { seedResults, type SeededResults } from '../support/results-seed.js';
import { csvObjects } from '../publish/helpers.js';
import type { QuestionReduction } from '../../src/results/index.js';

/**
 * The results section of the PI page in Chromium: the PI sees a thumbnail
 * and vote breakdown per subject, filters by answer, sorts by agreement,
 * reads the histogram (and its table), sees what rules retired or flagged,
 * and downloads the CSV of what is shown. axe at 1280 and 390 px.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = 'test/e2e/__screenshots__';

suite('the results page, in a browser', () => {
  let app: BridgeApp;
  let browser: Browser;
  let cid: string;
  let seeded: SeededResults;
  const errors: string[] = [];

  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien'], stamps: 8 });
    cid = app.collections.alien;
    const images = await app.s.db.selectFrom('images').select(['id', 'ra', 'dec']).where('collection_id', '=', cid).orderBy('stamp_index').execute();
    // The PI's table gives each object its Rubin id (as uploaded with the extra-metadata table).
    const objects = Object.fromEntries(images.map((img, i) => [img.id, { '#diaObjectId': String(1567428592185376000n + BigInt(i)) }]));
    await app.s.db.updateTable('collections').set({ extra_metadata: JSON.stringify({ columns: {}, objects }) }).where('id', '=', cid).execute();
    // Rules retire at 65% agreement here and flag below 50%, so the page has some of each.
    seeded = await seedResults(app.s.db, cid, images.map((i) => i.id), { retireAt: 0.65, flagBelow: 0.5 });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const t0 = (sid: string) => seeded.reductions.find((s) => s.subjectId === sid)!.tasks.T0 as QuestionReduction;

  async function open(width: number): Promise<Page> {
    const page = await signedInPage(browser, app, 'alien', `/pi#c=${cid}`, errors, { viewport: { width, height: 900 }, acceptDownloads: true });
    await page.locator('#detail-title').waitFor();
    await page.locator('#part-results > summary').click();
    await page.locator('#results-list li').first().waitFor();
    return page;
  }

  async function shown(page: Page): Promise<{ subject: string; agreement: number }[]> {
    return page.locator('#results-list > li').evaluateAll((els) => els.map((e) => { const d = (e as unknown as { dataset: Record<string, string | undefined> }).dataset; return { subject: d.subject ?? '', agreement: Number(d.agreement) }; }));
  }

  it('shows every subject with its votes, filters by answer, sorts by agreement, and downloads the CSV', async () => {
    const page = await open(1280);
    const all = await shown(page);
    expect(all.map((x) => x.subject).sort()).toEqual(seeded.reductions.map((s) => s.subjectId).sort());
    // Highest agreement first by default.
    expect(all.map((x) => x.agreement)).toEqual(all.map((x) => x.agreement).sort((a, b) => b - a));
    expect(await page.locator('#results-status').innerText()).toMatch(new RegExp(`Showing ${all.length} of ${all.length} subjects`));
    // A card: the object's thumbnail (a signed media URL that loads), the consensus in words, one meter per answer.
    const first = page.locator('#results-list > li').first();
    const sid = all[0].subject;
    expect(await first.locator('.results-consensus').innerText()).toContain(`${t0(sid).consensus.most_likely} · ${Math.round(t0(sid).consensus.agreement * 100)}% agree (${t0(sid).consensus.num_votes} of`);
    expect(await first.locator('meter').count()).toBe(3);
    expect(await first.locator('h4').innerText()).toMatch(/^object 15674285921853760\d\d$/);
    await expect.poll(() => first.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    // Rules' doings are marked.
    expect(seeded.retired.size).toBeGreaterThan(0);
    expect(seeded.flagged.size).toBeGreaterThan(0);
    expect(await page.locator('.badge-retired').count()).toBe(seeded.retired.size);
    expect(await page.locator('.badge-flag').count()).toBe(seeded.flagged.size);
    // The histogram, with its numbers as a table too.
    expect(await page.locator('#results-histogram svg[role=img] rect').count()).toBe(10);
    // (in a closed <details>: read the text, not the rendering)
    const cells = await page.locator('#results-histogram table tbody td:nth-child(2)').allTextContents();
    expect(cells.map(Number).reduce((a, b) => a + b, 0)).toBe(seeded.reductions.length);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/results-1280.png`, fullPage: true });

    // Lowest agreement first.
    await page.getByLabel('Sort by').selectOption('agreement');
    await expect.poll(async () => (await shown(page)).map((x) => x.agreement)).toEqual(all.map((x) => x.agreement).sort((a, b) => a - b));

    // Only the subjects whose consensus is "Yes".
    const yes = seeded.reductions.filter((s) => t0(s.subjectId).consensus.most_likely === 'Yes').map((s) => s.subjectId).sort();
    expect(yes.length).toBeGreaterThan(0);
    expect(yes.length).toBeLessThan(seeded.reductions.length);
    await page.getByLabel('Consensus answer').selectOption('Yes');
    await expect.poll(async () => (await shown(page)).map((x) => x.subject).sort()).toEqual(yes);
    expect(await page.locator('#results-status').innerText()).toMatch(/answer Yes/);
    expect(await seriousViolations(page)).toEqual([]);

    // The CSV download has the rows shown (the filter goes with it).
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#results-csv').click()]);
    expect(download.suggestedFilename()).toBe('u-alien-zoo-review-results.csv');
    const file = join(tmpdir(), `results-${Date.now()}.csv`);
    await download.saveAs(file);
    const rows = csvObjects(await readFile(file, 'utf8'));
    await rm(file, { force: true });
    expect(rows.map((r) => r.subject_id).sort()).toEqual(yes);
    for (const r of rows) expect(Number(r['T0.agreement'])).toBe(t0(r.subject_id).consensus.agreement);

    // Retired only.
    await page.getByLabel('Consensus answer').selectOption('');
    await page.getByLabel('Show').selectOption('retired');
    await expect.poll(async () => (await shown(page)).map((x) => x.subject).sort()).toEqual([...seeded.retired.keys()].sort());
    await page.context().close();
  }, 120_000);

  it('reads well on a phone (390 px)', async () => {
    const page = await open(390);
    expect(await seriousViolations(page)).toEqual([]);
    await page.locator('#part-results').screenshot({ path: `${SHOTS}/results-390.png` });
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await page.context().close();
    expect(errors).toEqual([]);
  }, 60_000);
});
