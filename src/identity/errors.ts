import { AppError } from '../domain/errors.js';

/**
 * A bearer token the bridge will not accept. The message says why (expired,
 * wrong issuer, ...) so a PI can fix their notebook, but never repeats the
 * token: messages end up in problem+json bodies and logs.
 */
export class InvalidTokenError extends AppError {
  readonly code = 'invalid_token';
}

/**
 * The browser login did not complete (state mismatch, replayed code, PKCE
 * failure, the provider said no). Distinct from InvalidTokenError because the
 * remedy is different: start the login again rather than fix a token.
 */
export class LoginFailedError extends AppError {
  readonly code = 'login_failed';
}
