import { readFileSync } from 'node:fs';
import { sep } from 'node:path';
import express, { type RequestHandler } from 'express';
import { escapeHtml } from './html.js';
import type { UiBundles } from './ui-bundles.js';
import { packagePath } from '../package-root.js';

/** The reviewer page's static files (ui/ at the package root; the build does not copy them). */
export const UI_DIR = packagePath('ui') + sep;

/** The pages' bundles (see ui-bundles.ts), then ui/ as files (styles, and the modules the source maps point at). */
export function uiAssets(bundles: UiBundles): RequestHandler[] {
  return [bundles.handler(), express.static(UI_DIR, { index: false, fallthrough: false, maxAge: '5m', setHeaders: (res) => res.setHeader('X-Content-Type-Options', 'nosniff') })];
}

/**
 * The pages of the bridge, each one HTML file in ui/ with its own scripts:
 * /review (reviewers, and PIs looking at their images), /pi (a PI's
 * collections: register, settings, pipeline, notifications) and /admin
 * (panel approvals, delegations, releases, project bindings, what stopped).
 * Only browser sessions get them, since their writes are protected by the
 * session's CSRF token; anyone else is sent to sign in first. Roles are
 * checked by the API each page calls, not here.
 */
export const PAGES = { '/review': 'review.html', '/pi': 'pi.html', '/admin': 'admin.html' } as const;

/** The header every page shares, written once here (the HTML files hold `{{PAGE_HEADER}}`); ui/js/page-header.js fills in who is signed in. */
const NAV: { path: keyof typeof PAGES; label: string; subtitle: string; role?: string }[] = [
  { path: '/review', label: 'Review', subtitle: 'Image review' },
  { path: '/pi', label: 'My collections', subtitle: 'My collections' },
  { path: '/admin', label: 'Admin', subtitle: 'Administration', role: 'admin' },
];

export function pageHeader(path: keyof typeof PAGES): string {
  const here = NAV.find((n) => n.path === path)!;
  const links = NAV.map((n) => `      <a href="${n.path}"${n.path === path ? ' aria-current="page"' : ''}${n.role ? ` data-role="${n.role}" hidden` : ''}>${n.label}</a>`).join('\n');
  return `<header class="app-header">
    <div class="brand">
      <span class="brand-name">RSP → Zooniverse bridge</span>
      <span class="brand-sub">${here.subtitle}</span>
    </div>
    <nav class="page-nav" aria-label="Pages">
${links}
    </nav>
    <div class="account">
      <span class="account-user">Signed in as <strong id="user-name">…</strong></span>
      <span id="user-roles" class="account-roles"></span>
      <a class="header-link" href="/api/v1/docs">API reference</a>
      <form id="logout-form" method="post" action="/auth/logout">
        <input type="hidden" name="_csrf" id="logout-csrf" value="">
        <button type="submit" class="btn btn-header">Log out</button>
      </form>
    </div>
  </header>`;
}

export function uiPage(path: keyof typeof PAGES, bundles: UiBundles, devMode = false): RequestHandler {
  let template: Promise<string> | undefined;
  return async (req, res) => {
    if (!req.identity || req.authVia !== 'session') {
      res.redirect(303, `/auth/login?returnTo=${encodeURIComponent(path)}`);
      return;
    }
    template ??= bundles.withBundle(readFileSync(`${UI_DIR}${PAGES[path]}`, 'utf8').replace('{{PAGE_HEADER}}', pageHeader(path))).then((html) => withDevBanner(html, devMode));
    // A page whose script failed to build is an error for every request (logged and answered by the error handler), not a page without script.
    const html = await template.catch((err: unknown) => {
      template = undefined;
      throw err;
    });
    const user = JSON.stringify({ username: req.identity.username, roles: req.identity.roles });
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html.replaceAll('{{CSRF_TOKEN}}', escapeHtml(req.csrfToken ?? '')).replaceAll('{{USER_JSON}}', escapeHtml(user)));
  };
}

/** In dev mode the page says so first thing: anyone reaching it could act as anyone. */
export function withDevBanner(html: string, devMode: boolean): string {
  if (!devMode) return html;
  return html.replace(/<body([^>]*)>/, '<body$1>\n  <div class="dev-banner" role="alert" data-bridge-mode="dev">DEV MODE (BRIDGE_MODE=dev): dev sign-in, not for real data or users</div>');
}
