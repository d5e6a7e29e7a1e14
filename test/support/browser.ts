import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import type { BridgeApp } from './bridge-app.js';

/** Debian's Chromium (never a downloaded browser); tests skip without it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * A page signed in as `user` through the test provider (its session cookies),
 * where nothing but the bridge on 127.0.0.1 is reachable; console errors and
 * uncaught exceptions go to `problems`. It opens `path` on the bridge;
 * `initScript` runs in the page before the page's own scripts (measurements).
 */
export async function signedInPage(browser: Browser, app: BridgeApp, user: string, path: string, problems: string[], options: BrowserContextOptions = {}, initScript?: string): Promise<Page> {
  const { cookie } = await app.session(user);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  if (initScript) await context.addInitScript(initScript);
  await context.route((u) => u.hostname !== '127.0.0.1', (route) => route.abort('blockedbyclient'));
  await context.addCookies(cookie.split('; ').map((kv) => ({ name: kv.slice(0, kv.indexOf('=')), value: kv.slice(kv.indexOf('=') + 1), url: app.url })));
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  await page.goto(`${app.url}${path}`);
  return page;
}
