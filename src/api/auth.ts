import type { RequestHandler } from 'express';
import { AppError, ForbiddenError } from '../domain/errors.js';

export type Role = 'pi' | 'reviewer' | 'admin';

export interface Identity {
  /** RSP username (Gafaelfawr `sub`). */
  username: string;
  roles: Role[];
}

export class UnauthenticatedError extends AppError {
  readonly code = 'unauthenticated';
}

declare module 'express-serve-static-core' {
  interface Request {
    identity?: Identity;
  }
}

/**
 * The authentication slot every route goes through. Identity (OIDC) fills
 * it with a real authenticator; until then only the dev authenticator exists
 * and the server refuses to start outside dev mode (see api/app.ts).
 */
export type Authenticator = RequestHandler;

/** Dev only: `X-Bridge-Dev-User: alien` (and optional `X-Bridge-Dev-Roles: reviewer,admin`). */
export const devAuthenticator: Authenticator = (req, _res, next) => {
  const user = req.header('x-bridge-dev-user');
  if (user && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(user)) {
    const roles = (req.header('x-bridge-dev-roles') ?? '').split(',').filter((r): r is Role => r === 'reviewer' || r === 'admin');
    req.identity = { username: user, roles: ['pi', ...roles] };
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
