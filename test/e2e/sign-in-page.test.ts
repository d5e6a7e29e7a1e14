import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../support/browser.js';
import { seriousViolations } from '../support/axe.js';
import { startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * The one sign-in page the bridge draws itself: the dev-mode form at
 * /auth/login (BRIDGE_MODE=dev with no OIDC provider; with a provider the
 * route redirects to the provider's own page). On a phone (390x844, touch,
 * device pixels 3x) every control on it is at least 44x44 CSS px (WCAG 2.5.5
 * target size; the human test found a 21 px sign-in button), axe finds
 * nothing serious or critical there or at 1280 px, and the form signs in.
 */
const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const PHONE = { width: 390, height: 844 };
const WIDE = { width: 1280, height: 900 };
const SHOTS = '/tmp';
const MIN = 44;

interface Target {
  what: string;
  width: number;
  height: number;
}

/**
 * Every interactive control's target: its own box, or for a checkbox or
 * radio the label wrapped around it (a click anywhere on that label toggles
 * it, checked below), which is what a finger has to hit.
 */
async function targets(page: Page): Promise<Target[]> {
  return page.$$eval('a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])', (els) =>
    els.map((el) => {
      const box = (el.matches('input[type="checkbox"], input[type="radio"]') && el.closest('label')) || el;
      const r = box.getBoundingClientRect();
      const name = el.getAttribute('name') ?? '';
      const value = el.matches('input[type="checkbox"], input[type="radio"]') ? `=${el.getAttribute('value') ?? ''}` : '';
      return { what: `${el.tagName.toLowerCase()}${name ? ` ${name}${value}` : ''} "${(box.textContent ?? '').trim().slice(0, 30)}"`, width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10 };
    }),
  );
}

suite('the dev sign-in page', () => {
  let api: DevApi;
  let browser: Browser;
  beforeAll(async () => {
    api = await startDevApi();
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('has 44 px targets on a phone, passes axe at 390 and 1280 px, and signs in', async () => {
    const problems: string[] = [];
    const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 3 });
    await context.route((u) => u.hostname !== '127.0.0.1', (route) => route.abort('blockedbyclient'));
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    // An unsigned visit to a page is sent here, as a reviewer on a phone would be.
    await page.goto(`${api.url}/pi`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    expect(await page.locator('h1').innerText()).toBe('Development sign-in');
    // The page is laid out for the phone's width (no 980 px desktop layout scaled down).
    const layout = await page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { clientWidth: number; scrollWidth: number } } }).document.documentElement;
      return { width: root.clientWidth, scrollWidth: root.scrollWidth };
    });
    expect(layout.width).toBe(PHONE.width);
    expect(layout.scrollWidth).toBeLessThanOrEqual(PHONE.width);

    const signIn = page.getByRole('button', { name: 'Sign in' });
    const box = (await signIn.boundingBox())!;
    expect(box.height).toBeGreaterThanOrEqual(MIN);
    expect(box.width).toBeGreaterThanOrEqual(MIN);
    const found = await targets(page);
    expect(found.map((t) => t.what)).toEqual(expect.arrayContaining([expect.stringMatching(/^input username/), expect.stringMatching(/^input roles=reviewer/), expect.stringMatching(/^input roles=admin/), expect.stringMatching(/^input dataRights/), expect.stringMatching(/^button "Sign in"/)]));
    expect(found.filter((t) => t.width < MIN || t.height < MIN)).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/sign-in-390.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await seriousViolations(page), 'dark, 390 px').toEqual([]);
    await page.screenshot({ path: `${SHOTS}/sign-in-390-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize(WIDE);
    expect(await seriousViolations(page), '1280 px').toEqual([]);
    expect((await signIn.boundingBox())!.height).toBeGreaterThanOrEqual(MIN);
    await page.screenshot({ path: `${SHOTS}/sign-in-1280.png`, fullPage: true });
    await page.setViewportSize(PHONE);

    // A tap anywhere on a role's label ticks it (so the label is the checkbox's target).
    const reviewerLabel = page.locator('label', { has: page.locator('input[value="reviewer"]') });
    const lb = (await reviewerLabel.boundingBox())!;
    await page.touchscreen.tap(lb.x + lb.width - 8, lb.y + lb.height - 4);
    expect(await page.locator('input[value="reviewer"]').isChecked()).toBe(true);

    // And it signs in: back to the page asked for, as that user with that role.
    await page.getByLabel('RSP username').fill('rev');
    await signIn.tap();
    await page.waitForURL(`${api.url}/pi`);
    await expect.poll(() => page.locator('#user-name').innerText()).toBe('rev');
    expect(await page.locator('#user-roles').innerText()).toMatch(/reviewer/);
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);
});
