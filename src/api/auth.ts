import type { RequestHandler } from 'express';
import { AppError, ForbiddenError, UpstreamError } from '../domain/errors.js';
import { sameSecret } from './same-secret.js';
import type { LiveSession, SessionsRepository } from '../domain/ports/sessions-repository.js';
import type { Identity, IdentityProvider, LoginFlow, Role } from '../domain/ports/identity-provider.js';

/** The browser session cookie: httpOnly, SameSite=Lax, Secure outside dev (set in auth-routes.ts). */
export const SESSION_COOKIE = 'bridge_session';

export type { Identity, IdentityProvider, LoginFlow, Role };

export class UnauthenticatedError extends AppError {
  readonly code = 'unauthenticated';
}

export class CsrfError extends AppError {
  readonly code = 'csrf_failed';
}

declare module 'express-serve-static-core' {
  interface Request {
    identity?: Identity;
    /** How the caller proved who they are: only cookie sessions need CSRF checks. */
    authVia?: 'bearer' | 'session' | 'dev';
    csrfToken?: string;
  }
}

/**
 * The authentication slot every route goes through. It never rejects by
 * itself (a page may be public); `requireRole` does, per route.
 */
export type Authenticator = RequestHandler;

export interface AuthenticatorDeps {
  sessions: SessionsRepository;
  /** Absent in dev without an OIDC provider. */
  provider?: IdentityProvider;
  /** Dev only: trust `X-Bridge-Dev-User` / `X-Bridge-Dev-Roles` headers (never in production). */
  devHeaders: boolean;
  /**
   * With a provider: how old a session's groups and roles may be. Past this
   * the provider is asked again with the sign-in's access token; a session
   * that cannot be re-checked (the token expired or was revoked, no token
   * kept) ends, and the browser signs in again, which re-reads them.
   */
  sessionRolesMaxAgeMs?: number;
  /** Told of every caller the identity provider vouched for (bearer or session), with their data rights: these are policy facts. */
  seen?: (username: string, dataRights: readonly string[]) => void;
}

/** Bearer tokens (API clients), then the session cookie (browsers), then, in dev, the dev headers. */
export function authenticator(d: AuthenticatorDeps): Authenticator {
  // A page fires several requests at once; one question to the provider serves them all.
  const inflight = new Map<string, Promise<LiveSession | undefined>>();
  const recheck = (cookie: string, s: LiveSession): Promise<LiveSession | undefined> => {
    let p = inflight.get(cookie);
    if (!p) {
      p = recheckSession(d, cookie, s).finally(() => inflight.delete(cookie));
      inflight.set(cookie, p);
    }
    return p;
  };
  return async (req, _res, next) => {
    try {
      const auth = req.header('authorization');
      if (auth !== undefined) {
        const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(auth);
        if (!m) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
        if (!d.provider) throw new UnauthenticatedError('bearer tokens are not accepted: no identity provider is configured');
        req.identity = await d.provider.verifyBearer(m[1]);
        req.authVia = 'bearer';
        d.seen?.(req.identity.username, req.identity.dataRights ?? []);
        return next();
      }
      const cookie = readCookie(req.header('cookie'), SESSION_COOKIE);
      if (cookie) {
        let s = await d.sessions.find(cookie);
        if (s && d.sessionRolesMaxAgeMs !== undefined && Date.now() - s.rolesCheckedAt.getTime() > d.sessionRolesMaxAgeMs) s = await recheck(cookie, s);
        if (s) {
          req.identity = { username: s.username, roles: s.roles as Role[], groups: s.groups, dataRights: s.dataRights };
          req.authVia = 'session';
          req.csrfToken = s.csrfToken;
          d.seen?.(s.username, s.dataRights);
          return next();
        }
      }
      if (d.devHeaders) {
        const user = req.header('x-bridge-dev-user');
        if (user && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(user)) {
          const roles = (req.header('x-bridge-dev-roles') ?? '').split(',').filter((r): r is Role => r === 'reviewer' || r === 'admin');
          const rights = (req.header('x-bridge-dev-data-rights') ?? '').split(/[\s,]+/).filter(Boolean);
          req.identity = { username: user, roles: ['pi', ...roles], groups: [], dataRights: rights };
          req.authVia = 'dev';
        }
      }
      next();
    } catch (e) {
      next(e);
    }
  };
}

/**
 * Re-reads a session's groups, roles and data rights from the provider.
 * Refused (token expired or revoked, user gone) or nothing to ask with: the
 * session ends. Provider unreachable: the request fails (503) and the
 * session stays for the next try, so an outage neither signs everyone out
 * nor extends stale roles.
 */
async function recheckSession(d: AuthenticatorDeps, cookie: string, s: LiveSession): Promise<LiveSession | undefined> {
  if (!s.accessToken || !d.provider) {
    await d.sessions.end(cookie);
    return undefined;
  }
  let who: Identity;
  try {
    who = await d.provider.recheckSession(s.accessToken, s.username);
  } catch (e) {
    if (e instanceof UpstreamError) throw e;
    await d.sessions.end(cookie);
    return undefined;
  }
  await d.sessions.renew(cookie, who);
  return { ...s, roles: who.roles, groups: who.groups, dataRights: who.dataRights, rolesCheckedAt: new Date() };
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/**
 * Cookie-authenticated requests that change something must carry the
 * session's CSRF token (header, or `_csrf` in a form): a cross-site page can
 * make the browser send the cookie, but cannot read the token.
 */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  if (req.authVia !== 'session' || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
  const sent = req.header('x-csrf-token') ?? (typeof req.body?._csrf === 'string' ? (req.body._csrf as string) : undefined);
  const want = req.csrfToken ?? '';
  if (!sameSecret(sent, want)) {
    return next(new CsrfError('missing or wrong CSRF token: reload the page and try again'));
  }
  next();
};

/** Each route declares who may call it; anonymous callers get 401, others 403. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.identity) return next(new UnauthenticatedError('authentication required'));
    if (!roles.some((r) => req.identity!.roles.includes(r))) return next(new ForbiddenError(`requires role ${roles.join(' or ')}`));
    next();
  };
}
