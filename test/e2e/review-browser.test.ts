import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_DIR } from '../../src/api/review-page.js';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * The reviewer page end to end in a real headless Chromium: sign-in through
 * the test OIDC provider's HTML login form, keyboard selection, approve and
 * reject through the page, the results checked in the database and the audit
 * API, the full-size viewer, a PI's read-only view, signed media URLs, logout.
 * Nothing is mocked: the bridge, its worker, Redis and the provider are real.
 */

// The in-page functions below (evaluate, waitForFunction, $$eval, init scripts) run in Chromium,
// but this project compiles against Node's lib only. These module-local declarations give them
// the few DOM names they use, without adding the DOM lib to the whole program.
interface El {
  readonly dataset: Record<string, string | undefined>;
  readonly className: string;
  readonly tagName: string;
  readonly textContent: string | null;
  readonly scrollWidth: number;
  readonly clientWidth: number;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll<T extends El = El>(selector: string): ArrayLike<T> & Iterable<T>;
  getBoundingClientRect(): { right: number };
}
interface Img extends El { readonly complete: boolean; readonly naturalWidth: number; readonly naturalHeight: number; readonly src: string }
interface Opt extends El { readonly value: string }
interface Dialog extends El { readonly open: boolean }
interface CspViolation { effectiveDirective: string; blockedURI: string; sourceFile: string; lineNumber: number }
declare const document: Pick<El, 'querySelectorAll'> & {
  readonly activeElement: El | null;
  readonly cookie: string;
  getElementById(id: string): El | null;
  addEventListener(type: 'securitypolicyviolation', listener: (e: CspViolation) => void): void;
};
declare const window: { scrollTo(x: number, y: number): void };
declare function getComputedStyle(e: El): { overflowX: string };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`review-browser.test.ts: SKIPPED — no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH); browsers are never downloaded`);

const SCREENSHOT = join(dirname(fileURLToPath(import.meta.url)), '__screenshots__', 'review.png');
const REASON = 'Bright satellite trail across the whole stamp';
const LONG = 120_000;

/** expect.poll with room for a loaded 2-core machine (its default gives up after 1 s). */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000, interval: 50 });

/** A problem the page itself caused: console error, uncaught exception or CSP violation. */
interface PageProblem {
  kind: 'console' | 'pageerror' | 'csp';
  pageUrl: string;
  text: string;
}

const suite = haveChromium ? describe : describe.skip;

suite(`reviewer page in headless Chromium${haveChromium ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let app: BridgeApp;
  let browser: Browser;
  let revContext: BrowserContext;
  let rev: Page;
  const problems: PageProblem[] = [];
  /** Card image ids in grid order, as the reviewer first saw alien's collection. */
  let ids: string[] = [];

  const bridgeOrigin = () => new URL(app.url).origin;
  /** Only the bridge's own pages count: the provider's pages are not under test here. */
  const bridgeProblems = () => problems.filter((p) => p.pageUrl.startsWith(bridgeOrigin()));

  /** A browser context whose pages report console errors, uncaught exceptions and CSP violations to `sink`. */
  async function newWatchedContext(sink: PageProblem[] = problems): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'en-GB', timezoneId: 'UTC' });
    // securitypolicyviolation events reach Node through a binding, which CSP does not govern.
    await context.exposeBinding('__reportCsp', ({ frame }, text: string) => {
      sink.push({ kind: 'csp', pageUrl: frame.url(), text });
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        const report = (window as unknown as { __reportCsp: (t: string) => void }).__reportCsp;
        void report(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    // Nothing leaves the machine (the provider's logout page imports a web font, for one).
    await context.route((u) => u.hostname !== '127.0.0.1', (route) => route.abort('blockedbyclient'));
    context.on('page', (p) => watch(p, sink));
    return context;
  }

  function watch(page: Page, sink: PageProblem[]): void {
    page.on('console', (m) => {
      if (m.type() === 'error') sink.push({ kind: 'console', pageUrl: page.url(), text: `${m.text()} (${m.location().url}:${m.location().lineNumber})` });
    });
    page.on('pageerror', (err) => sink.push({ kind: 'pageerror', pageUrl: page.url(), text: err.stack ?? err.message }));
  }

  /** Opens /review signed out, checks it lands on the provider's form, signs in there and comes back. */
  async function signIn(page: Page, username: string): Promise<void> {
    await page.goto(`${app.url}/review`);
    const atProvider = new URL(page.url());
    expect(atProvider.origin).toBe(new URL(app.op.issuer).origin);
    expect(atProvider.pathname).toMatch(/^\/interaction\/[^/]+$/);
    await poll(() => page.title()).toBe('Test RSP login');
    await page.locator('input[name=username]').fill(username);
    await Promise.all([
      page.waitForURL((u) => u.origin === bridgeOrigin() && u.pathname === '/review', { timeout: 60_000 }),
      page.locator('button[type=submit]').click(),
    ]);
    await page.locator('#user-name', { hasText: username }).waitFor();
    expect(await page.locator('#user-name').innerText()).toBe(username);
  }

  /** Waits until the grid finished loading and every thumbnail decoded (naturalWidth > 0). */
  async function waitForThumbnails(page: Page, count: number): Promise<void> {
    await page.waitForFunction(
      (n) => {
        const grid = document.getElementById('grid');
        const imgs = [...document.querySelectorAll<Img>('#grid .card[data-image-id] .thumb img')];
        return grid?.getAttribute('aria-busy') === 'false' && imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
      },
      count,
      { timeout: 60_000 },
    );
  }

  const cardIds = (page: Page) => page.$$eval('#grid .card[data-image-id]', (cards) => cards.map((c) => (c as El).dataset.imageId!));
  const card = (page: Page, id: string) => page.locator(`#grid .card[data-image-id="${id}"]`);
  const statusText = (page: Page) => page.locator('#status').innerText();

  async function imageStates(collectionId: string): Promise<Map<string, string>> {
    const rows = await app.s.db.selectFrom('images').select(['id', 'state']).where('collection_id', '=', collectionId).execute();
    return new Map(rows.map((r) => [r.id, r.state]));
  }

  beforeAll(async () => {
    // rev's own collection is registered first, so the page's default must skip it for rev.
    // Flipbook subjects: each image also has a grey frame per band, which the viewer flips through.
    app = await startBridgeApp({ owners: ['rev', 'alien'], settings: { subjectFrames: true } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    revContext = await newWatchedContext();
    rev = await revContext.newPage();
  }, LONG);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  }, LONG);

  it('notices CSP violations and console errors on bridge pages (self-check of the watcher)', async () => {
    const seen: PageProblem[] = [];
    const context = await newWatchedContext(seen);
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/healthz`);
      // An inline script, which the bridge's CSP (script-src 'self') must block.
      await page.evaluate("document.body.append(Object.assign(document.createElement('script'), { textContent: 'void 0' }))");
      await poll(() => seen.map((p) => p.kind).sort()).toEqual(['console', 'csp']);
      expect(seen.find((p) => p.kind === 'csp')?.text).toMatch(/^script-src(-elem)? blocked inline/);
      expect(seen.every((p) => p.pageUrl.startsWith(bridgeOrigin()))).toBe(true);
    } finally {
      await context.close();
    }
  }, LONG);

  it("serves the page's ES modules as JavaScript (a module script of any other type is refused)", async () => {
    const modules = (await readdir(join(UI_DIR, 'js'))).filter((f) => f.endsWith('.js'));
    expect(modules).toContain('main.js');
    for (const file of modules) {
      const res = await fetch(`${app.url}/ui/js/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toMatch(/^(text|application)\/javascript\b/);
      expect(res.headers.get('x-content-type-options'), file).toBe('nosniff');
    }
  });

  it('sends a signed-out browser to the provider, and back to /review signed in as rev', async () => {
    await signIn(rev, 'rev');
    await poll(() => rev.locator('#user-roles .role').allInnerTexts()).toContain('reviewer');
    // The session cookie is the bridge's, httpOnly, so page scripts cannot read it.
    const cookie = (await revContext.cookies(app.url)).find((c) => c.name === 'bridge_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(await rev.evaluate(() => document.cookie)).not.toContain('bridge_session');
  }, LONG);

  it("starts rev on alien's collection (not rev's own), and shows rev's own collection read-only", async () => {
    await rev.locator('#grid[aria-busy="false"]').waitFor();
    await rev.locator('#collection:not([disabled])').waitFor();
    // Rev's own collection comes first in the list, but holds no work rev may do.
    const options = await rev.$$eval('#collection option', (os) => os.map((o) => ({ value: (o as Opt).value, label: o.textContent ?? '' })));
    expect(options.map((o) => o.value)).toEqual([app.collections.rev, app.collections.alien]);
    expect(options.map((o) => o.label)).toEqual(['u/rev/zoo-review (active) — 4 quarantined', 'u/alien/zoo-review (active) — 4 quarantined']);
    expect(await rev.locator('#collection').inputValue()).toBe(app.collections.alien);
    await poll(() => rev.locator('#collection-summary .count-quarantined dd').innerText()).toBe('4');

    // Separation of duties, as the page shows it: rev sees their own images but cannot decide.
    await rev.selectOption('#collection', app.collections.rev);
    await waitForThumbnails(rev, 4);
    await rev.locator('#readonly-note').waitFor({ state: 'visible' });
    expect(await rev.locator('#readonly-note').innerText()).toMatch(/You own this collection/);
    expect(await rev.locator('#approve').isEnabled()).toBe(false);
    expect(await rev.locator('#grid .card .card-note').allInnerTexts()).toEqual(Array(4).fill('Your own collection: another reviewer decides'));
  }, LONG);

  it("shows alien's four pending images with their thumbnails loaded through signed media URLs", async () => {
    await rev.selectOption('#collection', app.collections.alien);
    await waitForThumbnails(rev, 4);
    expect(await rev.locator('#readonly-note').isHidden()).toBe(true);
    ids = await cardIds(rev);
    expect(ids).toHaveLength(4);
    const states = await imageStates(app.collections.alien);
    expect([...states.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) expect(states.get(id)).toBe('quarantined');
    const srcs = await rev.$$eval('#grid .card .thumb img', (imgs) => imgs.map((i) => (i as Img).src));
    for (const src of srcs) expect(new URL(src).pathname).toMatch(/^\/media\/q\/images\//);
    expect(new URL(rev.url()).searchParams.get('collection')).toBe(app.collections.alien);
  }, LONG);

  it('approves two images selected with the keyboard', async () => {
    await rev.locator('#grid .card[tabindex="0"]').focus();
    await poll(() => rev.evaluate(() => (document.activeElement as El | null)?.dataset.imageId)).toBe(ids[0]);
    await rev.keyboard.press('Space');
    await rev.keyboard.press('ArrowRight');
    await rev.keyboard.press('Space');
    await poll(() => card(rev, ids[0]).getAttribute('aria-selected')).toBe('true');
    await poll(() => card(rev, ids[1]).getAttribute('aria-selected')).toBe('true');
    expect(await card(rev, ids[2]).getAttribute('aria-selected')).toBe('false');
    await poll(() => rev.locator('#selected-count').innerText()).toBe('2 selected');
    expect(await rev.locator('#approve').isEnabled()).toBe(true);

    await rev.keyboard.press('a');
    await poll(() => statusText(rev)).toMatch(/^2 approved$/m);
    expect(await rev.locator('#status').getAttribute('data-kind')).toBe('ok');

    const states = await imageStates(app.collections.alien);
    // Approval starts the release (publishing), so an approved image may already have moved on.
    const approved = [...states].filter(([, s]) => s === 'approved' || s === 'published').map(([id]) => id);
    expect(approved.sort()).toEqual([ids[0], ids[1]].sort());
    expect(states.get(ids[2])).toBe('quarantined');
    expect(states.get(ids[3])).toBe('quarantined');
    // The page shows the new state and cleared the selection.
    for (const id of ids.slice(0, 2)) {
      expect(await card(rev, id).locator('.badge.status-approved').innerText()).toBe('Approved');
      expect(await card(rev, id).getAttribute('aria-selected')).toBe('false');
    }
  }, LONG);

  it('refuses a rejection without a reason, then rejects with one', async () => {
    await card(rev, ids[2]).locator('.thumb').click();
    await poll(() => card(rev, ids[2]).getAttribute('aria-selected')).toBe('true');
    await poll(() => rev.locator('#selected-count').innerText()).toBe('1 selected');
    await rev.locator('#reject').click();
    const dialog = rev.locator('#reject-dialog');
    await dialog.locator('#reject-reason').waitFor({ state: 'visible' });
    expect(await dialog.evaluate((d) => (d as Dialog).open)).toBe(true);

    // Empty, then blank: refused, the dialog stays, nothing reaches the server.
    for (const attempt of ['', '   \n ']) {
      await rev.locator('#reject-reason').fill(attempt);
      await rev.locator('#reject-confirm').click();
      await rev.locator('#reject-error').waitFor({ state: 'visible' });
      expect(await rev.locator('#reject-error').innerText()).toMatch(/reason/i);
      expect(await rev.locator('#reject-reason').getAttribute('aria-invalid')).toBe('true');
      expect(await dialog.evaluate((d) => (d as Dialog).open)).toBe(true);
    }
    expect((await imageStates(app.collections.alien)).get(ids[2])).toBe('quarantined');

    await rev.locator('#reject-reason').fill(REASON);
    await rev.locator('#reject-confirm').click();
    await poll(() => dialog.evaluate((d) => (d as Dialog).open)).toBe(false);
    await poll(() => statusText(rev)).toMatch(/^1 rejected$/m);

    const states = await imageStates(app.collections.alien);
    expect(states.get(ids[2])).toBe('rejected');
    expect([...states.values()].filter((s) => s === 'rejected')).toHaveLength(1);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action', 'reason', 'entity_id']).where('entity_id', '=', ids[2]).where('action', '=', 'reject').execute();
    expect(audit).toEqual([{ actor: 'rev', action: 'reject', reason: REASON, entity_id: ids[2] }]);
    const approvals = await app.s.db.selectFrom('audit_log').select(['actor', 'entity_id']).where('collection_id', '=', app.collections.alien).where('action', '=', 'approve').execute();
    expect(approvals.map((a) => a.entity_id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(approvals.every((a) => a.actor === 'rev')).toBe(true);
    // The collection summary follows the decisions (and the release that approval started:
    // without Zooniverse credentials the approved images end published).
    const summary = async () => {
      const dt = await rev.locator('#collection-summary .count dt').allTextContents();
      const dd = await rev.locator('#collection-summary .count dd').allInnerTexts();
      const m = Object.fromEntries(dt.map((k, i) => [k, Number(dd[i])]));
      return { quarantined: m.quarantined, rejected: m.rejected, approvedOrPublished: (m.approved ?? 0) + (m.published ?? 0) };
    };
    await poll(summary).toEqual({ quarantined: 1, rejected: 1, approvedOrPublished: 2 });
  }, LONG);

  it("lists the decisions in the page's audit trail exactly as the audit API returns them", async () => {
    interface Row { action: string; actor: string; reason: string | null; subject: string | null; at: string | null }
    const readAudit = () =>
      rev.$$eval('#audit li.audit-item', (lis) =>
        lis.map((li) => ({
          action: /\baction-(\S+)/.exec(li.querySelector('.badge')?.className ?? '')?.[1] ?? '',
          actor: li.querySelector('.audit-line strong')?.textContent ?? '',
          reason: li.querySelector('q.reason')?.textContent ?? null,
          subject: li.querySelector('.audit-subject')?.textContent ?? null,
          at: li.querySelector('time')?.getAttribute('datetime') ?? null,
        })),
      );
    // The page reloads its audit after each decision; wait for the rejection to be in it.
    await poll(async () => (await readAudit()).filter((r) => r.action === 'reject').length).toBe(1);
    const shown: Row[] = await readAudit();
    const decisions = shown.filter((r) => r.action === 'approve' || r.action === 'reject');
    expect(decisions).toHaveLength(3);
    expect(decisions.every((r) => r.actor === 'rev')).toBe(true);
    const reject = decisions.find((r) => r.action === 'reject')!;
    expect(reject.reason).toBe(REASON);
    expect(reject.subject).toBe((await card(rev, ids[2]).locator('.card-title').innerText()).toLowerCase());
    expect(decisions.filter((r) => r.action === 'approve').map((r) => r.subject).sort()).toEqual(
      (await Promise.all(ids.slice(0, 2).map(async (id) => (await card(rev, id).locator('.card-title').innerText()).toLowerCase()))).sort(),
    );
    // Newest first: the rejection came after both approvals.
    expect(decisions[0].action).toBe('reject');

    // The same list from the API, with the browser's own session.
    const res = await rev.request.get(`${app.url}/api/v1/collections/${app.collections.alien}/audit`);
    expect(res.status()).toBe(200);
    const api = (await res.json()) as { items: { action: string; actor: string; reason: string | null; imageId: string; at: string }[] };
    const key = (r: { action: string; actor: string; reason: string | null; at: string | null }) => JSON.stringify([r.at, r.action, r.actor, r.reason]);
    expect(shown.map(key).sort()).toEqual(api.items.map((i) => key({ ...i, at: new Date(i.at).toISOString() })).sort());
    const apiDecisions = api.items.filter((i) => i.action === 'approve' || i.action === 'reject');
    expect(apiDecisions.map((i) => [i.imageId, i.action, i.actor, i.reason]).sort()).toEqual(
      [
        [ids[0], 'approve', 'rev', null],
        [ids[1], 'approve', 'rev', null],
        [ids[2], 'reject', 'rev', REASON],
      ].sort(),
    );
  }, LONG);

  it('opens the full-size viewer with Enter, with the image and its audit trail', async () => {
    await card(rev, ids[2]).focus();
    await rev.keyboard.press('Enter');
    const viewer = rev.locator('#viewer');
    await poll(() => viewer.evaluate((d) => (d as Dialog).open)).toBe(true);
    await rev.waitForFunction(() => {
      const img = document.getElementById('viewer-img') as Img | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    const row = await app.s.db.selectFrom('images').select(['width', 'height']).where('id', '=', ids[2]).executeTakeFirstOrThrow();
    expect(await rev.locator('#viewer-img').evaluate((i) => [(i as Img).naturalWidth, (i as Img).naturalHeight])).toEqual([row.width, row.height]);
    expect(await rev.locator('#viewer-img-error').isHidden()).toBe(true);
    const entry = rev.locator('#viewer-audit li.audit-item', { has: rev.locator('.badge.action-reject') });
    await entry.waitFor();
    expect(await entry.locator('q.reason').innerText()).toBe(REASON);
    expect(await entry.locator('strong').innerText()).toBe('rev');
    expect(await rev.locator('#viewer-meta').innerText()).toContain(ids[2]);
    // The frames volunteers will flip through: colour first, then the bands in channel order.
    expect(await rev.locator('#viewer-frames button[data-frame]').allInnerTexts()).toEqual(['colour', 'i', 'r', 'g']);
    const colourSrc = await rev.locator('#viewer-img').getAttribute('src');
    await rev.locator('#viewer-frames button[data-frame="r"]').click();
    await rev.waitForFunction((before) => {
      const img = document.getElementById('viewer-img') as Img | null;
      return !!img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0;
    }, colourSrc);
    expect(await rev.locator('#viewer-img').evaluate((i) => [(i as Img).naturalWidth, (i as Img).naturalHeight])).toEqual([row.width, row.height]);
    expect(await rev.locator('#viewer-frames button[data-frame="r"]').getAttribute('aria-pressed')).toBe('true');
    expect(await rev.locator('#viewer-img').getAttribute('alt')).toMatch(/\(r\)$/);
    await rev.locator('#viewer-frames button[data-frame="colour"]').click();
    await poll(() => rev.locator('#viewer-img').getAttribute('src')).toBe(colourSrc);
    await rev.keyboard.press('Escape');
    await poll(() => viewer.evaluate((d) => (d as Dialog).open)).toBe(false);
    // Focus returns to the card the viewer was opened from.
    await poll(() => rev.evaluate(() => (document.activeElement as El | null)?.dataset.imageId)).toBe(ids[2]);
  }, LONG);

  it('takes a screenshot of the page after the decisions', async () => {
    // Nothing in a card may be wider than the card (they clip overflow, so it would be cut off).
    const clipped = await rev.$$eval('#grid .card .card-body *', (els) =>
      els.filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0).map((e) => `${e.tagName}.${e.className}: ${(e.textContent ?? '').slice(0, 60)}`),
    );
    expect(clipped).toEqual([]);
    const overhang = await rev.$$eval('#grid .card', (cards) =>
      cards.flatMap((c) => {
        const box = c.getBoundingClientRect();
        return [...c.querySelectorAll('.card-body *')].filter((e) => e.getBoundingClientRect().right > box.right + 1).map((e) => `${e.tagName}.${e.className}: ${(e.textContent ?? '').slice(0, 60)}`);
      }),
    );
    expect(overhang).toEqual([]);
    await rev.evaluate(() => window.scrollTo(0, 0));
    const tmp = join(tmpdir(), 'rsp-bridge-review.png');
    const png = await rev.screenshot({ path: tmp, fullPage: true });
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await writeFile(SCREENSHOT, png);
    for (const file of [tmp, SCREENSHOT]) {
      const bytes = await readFile(file);
      expect(bytes.length).toBeGreaterThan(1000);
      expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      const decoded = PNG.sync.read(bytes);
      expect(decoded.width).toBe(1400);
      expect(decoded.height).toBeGreaterThanOrEqual(1000);
    }
  }, LONG);

  it("gives a PI their own collection read-only, and nobody else's", async () => {
    const context = await newWatchedContext();
    try {
      const pi = await context.newPage();
      await signIn(pi, 'alien');
      expect(await pi.locator('#user-roles .role').allInnerTexts()).toEqual(['pi']);
      await pi.locator('#collection:not([disabled])').waitFor();
      const options = await pi.$$eval('#collection option', (os) => os.map((o) => (o as Opt).value));
      expect(options).toEqual([app.collections.alien]);
      expect(options).not.toContain(app.collections.rev);
      // A PI's default filters show every state: all four images, thumbnails loaded.
      await waitForThumbnails(pi, 4);
      expect((await cardIds(pi)).sort()).toEqual([...ids].sort());
      // The two approved images were published by the release they started (no Zooniverse
      // credentials here, so no upload batch goes further than its manifest).
      await pi.locator('#uploads').waitFor({ state: 'visible' });
      expect(await pi.locator('#uploads-list').innerText()).toMatch(/2 published/);

      await pi.locator('#readonly-note').waitFor({ state: 'visible' });
      expect(await pi.locator('#readonly-note').innerText()).toMatch(/EPO reviewers decide/);
      expect(await pi.locator('#approve').isEnabled()).toBe(false);
      expect(await pi.locator('#approve').isVisible()).toBe(false);
      expect(await pi.locator('#reject').isEnabled()).toBe(false);
      // Keys do nothing to the data: no selection, no decision.
      await pi.locator('#grid .card[tabindex="0"]').focus();
      await pi.keyboard.press('Space');
      expect(await pi.locator('#grid .card[aria-selected="true"]').count()).toBe(0);
      await pi.keyboard.press('a');
      await poll(() => statusText(pi)).toMatch(/Read-only/);
      // The rejection and its reason are shown to the PI.
      expect(await card(pi, ids[2]).locator('q.reason').innerText()).toBe(REASON);

      // Nor does the API let the PI around the page: their own CSRF token, still 403.
      const csrf = await pi.locator('meta[name="csrf-token"]').getAttribute('content');
      // (Through the context's request API, which shares the session cookie: a failed fetch in the page would log a console error.)
      const decided = await pi.request.post(`${app.url}/api/v1/review/decisions`, { headers: { 'x-csrf-token': csrf ?? '' }, data: { imageIds: [ids[3]], action: 'approve' } });
      expect(decided.status()).toBe(403);
      expect(((await decided.json()) as { code?: string }).code).toBe('forbidden');
      expect((await pi.request.get(`${app.url}/api/v1/review/images?collection=${app.collections.rev}`)).status()).toBe(403);
      expect((await pi.request.get(`${app.url}/api/v1/collections/${app.collections.rev}/audit`)).status()).toBe(403);
      expect((await imageStates(app.collections.alien)).get(ids[3])).toBe('quarantined');

      // A media URL copied from the page works without a session only with its signature intact.
      const src = await pi.locator(`#grid .card[data-image-id="${ids[3]}"] .thumb img`).getAttribute('src');
      const good = new URL(src!, app.url);
      expect((await fetch(good)).status).toBe(200);
      const sig = good.searchParams.get('sig')!;
      const tampered = new URL(good);
      tampered.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
      const refused = await fetch(tampered);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).not.toMatch(/^image\//);
      // Nor can the link be made to live longer: the expiry is signed too.
      const extended = new URL(good);
      extended.searchParams.set('exp', String(Number(good.searchParams.get('exp')) + 3600));
      expect((await fetch(extended)).status).toBe(403);

      // The release progress follows along without a reload: the reviewer approves the last
      // image elsewhere, and the PI's open page shows it published on its next reading.
      const revCsrf = await rev.locator('meta[name="csrf-token"]').getAttribute('content');
      const approved = await revContext.request.post(`${app.url}/api/v1/review/decisions`, { headers: { 'x-csrf-token': revCsrf ?? '' }, data: { imageIds: [ids[3]], action: 'approve', reason: 'fine' } });
      expect(approved.status()).toBe(200);
      // A mark on the open document: a reload would lose it.
      await pi.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
      await expect.poll(() => pi.locator('#uploads-list').innerText(), { timeout: 45_000, interval: 250 }).toMatch(/0 approved waiting to publish · 3 published/);
      expect(await pi.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);

      expect(bridgeProblems()).toEqual([]);
    } finally {
      await context.close();
    }
  }, LONG);

  it('had no console errors, uncaught exceptions or CSP violations on the bridge pages', () => {
    expect(bridgeProblems()).toEqual([]);
  });

  it("logs out through the page's button and ends the session", async () => {
    const cookie = (await revContext.cookies(app.url)).find((c) => c.name === 'bridge_session');
    expect(cookie).toBeDefined();
    expect((await revContext.request.get(`${app.url}/api/v1/me`)).status()).toBe(200);
    // The ID token is kept for the logout hint, but sealed: the database holds no token anyone could replay.
    const stored = await app.s.db.selectFrom('sessions').select('id_token_sealed').where('username', '=', 'rev').execute();
    expect(stored.length).toBeGreaterThan(0);
    for (const row of stored) expect(row.id_token_sealed).toMatch(/^[\w-]{40,}$/);
    for (const row of stored) expect(row.id_token_sealed).not.toMatch(/eyJ/);
    const toProvider: string[] = [];
    const watch = (r: { isNavigationRequest(): boolean; url(): string }) => {
      if (r.isNavigationRequest() && r.url().startsWith(app.op.issuer)) toProvider.push(r.url());
    };
    rev.on('request', watch);
    await Promise.all([
      rev.waitForURL((u) => u.origin === new URL(app.op.issuer).origin, { timeout: 60_000, waitUntil: 'domcontentloaded' }),
      rev.locator('#logout-form button[type=submit]').click(),
    ]);
    rev.off('request', watch);
    // RP-initiated logout carries the ID token of rev's sign-in as its hint.
    const hint = new URL(toProvider[0]).searchParams.get('id_token_hint');
    expect(hint).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.parse(Buffer.from(hint!.split('.')[1], 'base64url').toString()).sub).toBe('rev');
    // The bridge session is gone at once, whatever the user answers at the provider.
    expect((await revContext.request.get(`${app.url}/api/v1/me`)).status()).toBe(401);
    expect((await revContext.cookies(app.url)).find((c) => c.name === 'bridge_session')).toBeUndefined();
    expect(await app.s.db.selectFrom('sessions').select('username').where('username', '=', 'rev').execute()).toEqual([]);
    // A copied cookie is worthless too: the session was deleted on the server, not only in the browser.
    const replay = await fetch(`${app.url}/api/v1/me`, { headers: { cookie: `bridge_session=${cookie!.value}` } });
    expect(replay.status).toBe(401);

    // RP-initiated logout at the provider: confirm, and come back to the bridge, which asks for a login again.
    const navigations: string[] = [];
    rev.on('request', (r) => {
      if (r.isNavigationRequest()) navigations.push(r.url());
    });
    await Promise.all([
      rev.waitForURL((u) => u.origin === new URL(app.op.issuer).origin && u.pathname.startsWith('/interaction/'), { timeout: 60_000, waitUntil: 'domcontentloaded' }),
      rev.locator('button[name=logout]').click(),
    ]);
    await rev.locator('input[name=username]').waitFor();
    expect(navigations).toContain(`${app.url}/auth/login?returnTo=%2Freview`);
    expect(bridgeProblems()).toEqual([]);
  }, LONG);
});
