import express, { Router, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import type { SessionsRepository } from '../domain/ports/sessions-repository.js';
import type { Logger } from '../domain/ports/logger.js';
import { readCookie, requireCsrf, SESSION_COOKIE, UnauthenticatedError, type Identity, type IdentityProvider, type Role } from './auth.js';
import { escapeHtml } from './html.js';
import { problem } from './problem.js';
import { safeReturnTo } from '../identity/oidc-identity.js';
import { sameSecret } from './same-secret.js';

const LOGIN_COOKIE = 'bridge_login_state';

export interface AuthRoutesDeps {
  sessions: SessionsRepository;
  log: Logger;
  provider?: IdentityProvider;
  /** Dev without a provider: a clearly labelled form that signs in as anyone. */
  devLogin: boolean;
  /** Where the browser reaches us, e.g. https://bridge.example (for the callback URL). */
  publicBaseUrl: string;
  secureCookies: boolean;
  sessionTtlMs: number;
  /** Login attempts per IP per minute. */
  loginRateLimit: number;
}


/**
 * Browser sign-in: authorization code + PKCE against the configured OIDC
 * provider, a server-side session behind an httpOnly cookie, and logout.
 */
export function authRoutes(d: AuthRoutesDeps): Router {
  const r = Router();
  const limiter = rateLimit({ windowMs: 60_000, limit: d.loginRateLimit, standardHeaders: 'draft-7', legacyHeaders: false, handler: problem('too_many_requests', 'Too many login attempts; wait a minute') });
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  const startSession = async (res: Response, who: Identity, tokens?: { idToken?: string; accessToken?: string }) => {
    const s = await d.sessions.create(who, d.sessionTtlMs, tokens);
    res.cookie(SESSION_COOKIE, s.cookie, { httpOnly: true, secure: d.secureCookies, sameSite: 'lax', path: '/', expires: s.expiresAt });
    d.log.info({ user: who.username, roles: who.roles }, 'signed in');
  };

  r.get('/auth/login', limiter, async (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    if (d.provider) {
      const { authorizationUrl, flow } = await d.provider.beginLogin(returnTo);
      await d.sessions.saveLoginFlow(flow);
      // Binds the flow to this browser: a callback link made by someone else
      // (to sign the victim in as the attacker) finds no matching cookie.
      res.cookie(LOGIN_COOKIE, flow.state, { httpOnly: true, secure: d.secureCookies, sameSite: 'lax', path: '/auth/callback', maxAge: 10 * 60_000 });
      res.redirect(303, authorizationUrl);
      return;
    }
    if (!d.devLogin) throw new UnauthenticatedError('no identity provider is configured');
    res.type('html').send(devLoginPage(returnTo));
  });

  r.get('/auth/callback', limiter, async (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    if (!d.provider) throw new UnauthenticatedError('no identity provider is configured');
    const bound = readCookie(req.header('cookie'), LOGIN_COOKIE) ?? '';
    res.clearCookie(LOGIN_COOKIE, { httpOnly: true, secure: d.secureCookies, sameSite: 'lax', path: '/auth/callback' });
    if (!state || !sameSecret(state, bound)) {
      throw new UnauthenticatedError('this sign-in was not started in this browser; start again from the login page');
    }
    const flow = await d.sessions.takeLoginFlow(state);
    if (!flow) throw new UnauthenticatedError('this sign-in link has expired or was already used; start again from the login page');
    const { identity, idToken, accessToken } = await d.provider.completeLogin(new URL(req.originalUrl, d.publicBaseUrl), flow);
    await startSession(res, identity, { idToken, accessToken });
    res.redirect(303, safeReturnTo(flow.returnTo));
  });

  if (d.devLogin && !d.provider) {
    const devForm = z.object({ username: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case RSP username'), roles: z.union([z.string(), z.array(z.string())]).optional(), dataRights: z.string().max(200).optional(), returnTo: z.string().optional() });
    r.post('/auth/dev-login', limiter, form, async (req, res) => {
      const f = devForm.parse(req.body);
      const roles = ([] as string[]).concat(f.roles ?? []).filter((x): x is Role => x === 'reviewer' || x === 'admin');
      await startSession(res, { username: f.username, roles: ['pi', ...roles], groups: [], dataRights: (f.dataRights ?? '').split(/[\s,]+/).filter(Boolean) });
      res.redirect(303, safeReturnTo(f.returnTo));
    });
  }

  r.post('/auth/logout', form, requireCsrf, async (req, res) => {
    const cookie = readCookie(req.header('cookie'), SESSION_COOKIE);
    let idToken: string | undefined;
    // The hint lets the provider end its session without asking the user to confirm who they are.
    if (cookie) idToken = await d.sessions.end(cookie);
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, secure: d.secureCookies, sameSite: 'lax', path: '/' });
    const end = d.provider?.endSessionUrl(idToken, new URL('/', d.publicBaseUrl).toString());
    res.redirect(303, end ?? '/');
  });

  return r;
}

/**
 * The dev-mode sign-in form (no identity provider). Laid out for the
 * device's width, with every control at least 44x44 CSS px on a phone
 * (ui/login.css; test/e2e/sign-in-page.test.ts measures it).
 */
function devLoginPage(returnTo: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Dev sign-in — RSP-Zooniverse bridge</title>
<link rel="stylesheet" href="/ui/review.css"><link rel="stylesheet" href="/ui/login.css"></head><body class="dev-login">
<main class="login-main"><h1>Development sign-in</h1>
<p class="login-warning"><strong>Dev mode, no identity provider configured.</strong> Anyone can sign in as anyone. Never expose this server.</p>
<form class="login-form" method="post" action="/auth/dev-login">
<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">
<div class="login-field"><label for="username">RSP username</label> <input id="username" name="username" type="text" required pattern="[a-z0-9][a-z0-9._\\-]{0,63}" autocomplete="username" autocapitalize="none" spellcheck="false"></div>
<fieldset class="login-roles"><legend>Roles</legend>
<label><input type="checkbox" name="roles" value="reviewer"> EPO reviewer</label>
<label><input type="checkbox" name="roles" value="admin"> admin</label></fieldset>
<div class="login-field"><label for="dataRights">Data rights (space-separated releases)</label> <input id="dataRights" name="dataRights" type="text" autocapitalize="none" spellcheck="false"></div>
<div><button type="submit" class="btn btn-sign-in">Sign in</button></div></form></main></body></html>`;
}
