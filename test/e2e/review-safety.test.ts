import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seriousViolations } from '../support/axe.js';

/**
 * Review that cannot slip, as a reviewer does it in Chromium: a bulk
 * approval asks first and naming the count, waits out the publishing delay
 * with a countdown, and Undo takes it all back with nothing published;
 * deciding from the viewer goes image by image with one key; axe finds no
 * serious or critical problem in any state of the page at desktop and phone
 * widths.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '__screenshots__');
const LONG = 180_000;
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000, interval: 50 });

suite('review that cannot slip', () => {
  let app: BridgeApp;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien'], stamps: 24, env: { PUBLISH_DELAY_SECONDS: '600' } });
    browser = await launchChromium();
  }, LONG);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function pageAs(user: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
    const page = await signedInPage(browser, app, user, `/review?collection=${app.collections.alien}`, problems, { viewport, locale: 'en-GB', timezoneId: 'UTC' });
    try {
      await page.locator('#grid[aria-busy="false"] .card').first().waitFor();
    } catch (e) {
      await writeFile(join(SHOTS, 'review-failed-load.png'), await page.screenshot({ fullPage: true }));
      throw e;
    }
    return page;
  }

  const states = async () => {
    const rows = await app.s.db.selectFrom('images').select(['state', 'public_key']).where('collection_id', '=', app.collections.alien).execute();
    const by: Record<string, number> = {};
    for (const r of rows) by[r.state] = (by[r.state] ?? 0) + 1;
    return { by, public: rows.filter((r) => r.public_key).length };
  };

  it('Ctrl+A, A asks first, naming the count; approved images count down; Ctrl+A, U undoes all of them and nothing is published', async () => {
    const page = await pageAs('rev');
    await poll(() => page.locator('#grid .card').count()).toBe(24);
    await page.locator('#grid .card[tabindex="0"]').focus();
    await page.keyboard.press('Control+a');
    await poll(() => page.locator('#selected-count').innerText()).toBe('24 selected');
    await page.keyboard.press('a');
    const dialog = page.locator('#confirm-dialog');
    await poll(() => dialog.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
    expect(await page.locator('#confirm-title').innerText()).toBe('Approve 24 images?');
    // Cancel has the focus: a second A or Enter does not confirm.
    await page.keyboard.press('Escape');
    await poll(() => page.locator('#status').innerText()).toMatch(/Nothing was changed/);
    expect((await states()).by.quarantined).toBe(24);

    await page.keyboard.press('a');
    await page.locator('#confirm-ok').click();
    await poll(() => page.locator('#status').innerText()).toMatch(/24 approved, publishing in (9|10):\d\d unless undone/);
    expect(await states()).toEqual({ by: { approved: 24 }, public: 0 });
    await poll(() => page.locator('#grid .countdown-text').count()).toBe(24);
    expect(await page.locator('#grid .countdown-text').first().innerText()).toMatch(/^Publishes in (9|10):\d\d$/);
    await mkdir(SHOTS, { recursive: true });
    await writeFile(join(SHOTS, 'review-countdown.png'), await page.screenshot());

    // Everything approved is still selectable (Undo applies), and Undo asks too.
    await page.locator('#grid .card[tabindex="0"]').focus();
    await page.keyboard.press('Control+a');
    await page.keyboard.press('u');
    await poll(() => page.locator('#confirm-title').innerText()).toBe('Undo 24 images?');
    await page.locator('#confirm-ok').click();
    await poll(() => page.locator('#status').innerText()).toMatch(/^24 undone/);
    expect(await states()).toEqual({ by: { quarantined: 24 }, public: 0 });
    // A card's own Undo during the delay: approve one, undo it from its card.
    await page.locator('#grid .card').first().locator('.thumb').click();
    await page.keyboard.press('a');
    await page.locator('#grid .card').first().locator('.undo-one').click();
    await poll(() => page.locator('#status').innerText()).toMatch(/^1 undone/);
    expect(await states()).toEqual({ by: { quarantined: 24 }, public: 0 });
    expect(problems).toEqual([]);
    await page.context().close();
  }, LONG);

  it('keeps the audit trail within reach at 1280 px: right under the filters, and still in view after scrolling the grid', async () => {
    const page = await pageAs('rev', { width: 1280, height: 800 });
    await page.locator('#layout-list').click();
    const top = await page.locator('#audit-heading').evaluate((e) => (e as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top);
    expect(top).toBeLessThan(800);
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 100_000));
    const after = await page.locator('#audit-heading').evaluate((e) => (e as unknown as { getBoundingClientRect(): { top: number; bottom: number } }).getBoundingClientRect());
    expect(after.top).toBeGreaterThanOrEqual(0);
    expect(after.bottom).toBeLessThan(800);
    await page.locator('#layout-grid').click();
    await page.context().close();
  }, LONG);

  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    it(`has no serious or critical accessibility problem in any state at ${viewport.width} px`, async () => {
      const page = await pageAs('rev', viewport);
      const found: Record<string, unknown[]> = {};
      const check = async (label: string) => {
        const v = await seriousViolations(page);
        if (v.length) found[label] = v;
      };
      await check('grid');
      await page.locator('#layout-list').click();
      await check('list');
      await page.locator('#layout-grid').click();
      await page.locator('#grid .card').nth(12).locator('.thumb').click();
      await check('one selected');
      await page.locator('#grid .card').nth(12).focus();
      await page.keyboard.press('r');
      await poll(() => page.locator('#reject-dialog').evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
      await check('reject dialog');
      await page.locator('#reject-cancel').click();
      await page.keyboard.press('Control+a');
      await page.keyboard.press('a');
      await poll(() => page.locator('#confirm-dialog').evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
      await check('confirm dialog');
      const before = await states();
      await page.locator('#confirm-cancel').click();
      await poll(() => page.locator('#status').innerText()).toMatch(/Nothing was changed/);
      expect(await states()).toEqual(before);
      await page.locator('#grid .card').nth(12).focus();
      await page.keyboard.press('Enter');
      await page.locator('#viewer-img').waitFor();
      await check('viewer');
      await page.keyboard.press('Escape');
      await page.keyboard.press('?');
      await check('help');
      await page.keyboard.press('Escape');
      await writeFile(join(SHOTS, `review-${viewport.width}.png`), await page.screenshot({ fullPage: viewport.width < 500 }));
      expect(JSON.stringify(found, null, 1)).toBe('{}');
      await page.context().close();
    }, LONG);
  }
  it('approves ten images from the viewer with one key each, the viewer moving on by itself', async () => {
    const page = await pageAs('rev');
    const first = page.locator('#grid .card').first();
    await first.focus();
    await page.keyboard.press('Enter');
    await poll(() => page.locator('#viewer').evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
    const names: string[] = [];
    for (let i = 0; i < 10; i++) {
      const title = await page.locator('#viewer-title').innerText();
      names.push(title);
      await page.keyboard.press('a');
      await poll(() => page.locator('#viewer-title').innerText()).not.toBe(title);
    }
    expect(new Set(names).size).toBe(10);
    expect((await states()).by.approved).toBe(10);
    // The viewer enlarges a small stamp to fit its pane, with crisp pixels.
    const box = await page.locator('#viewer-img').boundingBox();
    const natural = await page.locator('#viewer-img').evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth);
    expect(box!.width).toBeGreaterThan(natural * 2);
    expect(await page.locator('#viewer-img').evaluate((i) => (globalThis as unknown as { getComputedStyle(e: unknown): { imageRendering: string } }).getComputedStyle(i).imageRendering)).toBe('pixelated');
    // Another colour preset, rendered by the server for this image alone.
    const other = page.locator('#viewer-presets button[aria-pressed="false"]').first();
    await other.waitFor();
    await other.click();
    await page.waitForFunction(() => {
      const i = (globalThis as unknown as { document: { getElementById(id: string): { src: string; complete: boolean; naturalWidth: number } | null } }).document.getElementById('viewer-img');
      return !!i && i.src.includes('/render?preset=') && i.complete && i.naturalWidth > 0;
    });
    await writeFile(join(SHOTS, 'review-viewer.png'), await page.screenshot());
    // U takes the last decision back, in the viewer too.
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('u');
    await poll(() => page.locator('#status').innerText()).toMatch(/^1 undone/);
    await poll(async () => (await states()).by.approved).toBe(9);
    expect(problems).toEqual([]);
    await page.context().close();
  }, LONG);
});
