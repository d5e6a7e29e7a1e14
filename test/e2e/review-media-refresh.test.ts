import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium, signedInPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * A page left open past the signed URLs' lifetime (6 s here instead of
 * minutes) keeps its thumbnails: the page renews the links in place before
 * they expire, without a reload, and the selection stays.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000, interval: 100 });

suite('signed media URLs renewed by the page', () => {
  let app: BridgeApp;
  let browser: Browser;
  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien'], stamps: 6, env: { MEDIA_URL_TTL_SECONDS: '6' } });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('keeps every thumbnail and the selection three lifetimes later, and a fresh link loads where an old one is refused', async () => {
    const errors: string[] = [];
    const page = await signedInPage(browser, app, 'rev', `/review?collection=${app.collections.alien}`, errors);
    const context = page.context();
    const cards = page.locator('#grid .card');
    await poll(() => cards.count()).toBe(6);
    const srcs = () => page.$$eval('#grid .card .thumb img', (imgs) => imgs.map((i) => (i as unknown as { src: string }).src));
    const loaded = () => page.$$eval('#grid .card .thumb img', (imgs) => imgs.filter((i) => (i as unknown as { complete: boolean; naturalWidth: number }).complete && (i as unknown as { naturalWidth: number }).naturalWidth > 0).length);
    await poll(loaded).toBe(6);
    const first = await srcs();
    await cards.nth(0).locator('.thumb').click();
    await cards.nth(1).locator('.thumb').click();
    await poll(() => page.locator('#selected-count').innerText()).toBe('2 selected');

    await page.waitForTimeout(18_000);
    const later = await srcs();
    expect(later.every((s, i) => s !== first[i])).toBe(true);
    expect(await loaded()).toBe(6);
    expect(await page.locator('#grid .thumb.broken').count()).toBe(0);
    expect(await page.locator('#selected-count').innerText()).toBe('2 selected');
    // The first links really did expire: the server refuses them now, and accepts the renewed ones.
    const old = await page.request.get(first[0]);
    expect(old.status()).toBeGreaterThanOrEqual(400);
    expect((await page.request.get(later[0])).status()).toBe(200);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
