import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../domain/ports/logger.js';

const STATUS: Record<string, number> = {
  validation_failed: 400,
  unauthenticated: 401,
  invalid_token: 401,
  login_failed: 401,
  csrf_failed: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  unprocessable_input: 422,
  upstream_refused: 422,
  too_many_requests: 429,
  upstream_unavailable: 503,
};

/**
 * A problem the HTTP layer itself finds (no such route, a rate limit), with
 * its title given: these have no domain error class to name them.
 */
export class HttpProblem extends AppError {
  constructor(
    readonly code: string,
    readonly title: string,
    detail?: string,
  ) {
    super(detail ?? '');
  }
}

/** Hands an HTTP-layer problem to the error handler, for middleware that answers instead of a route. */
export const problem =
  (code: string, title: string, detail?: string): RequestHandler =>
  (_req, _res, next) =>
    next(new HttpProblem(code, title, detail));

const CLIENT_CODES: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 412: 'precondition_failed', 415: 'unsupported_media_type', 416: 'range_not_satisfiable' };
const CLIENT_TITLES: Record<number, string> = { 404: 'Not found', 405: 'Method not allowed', 406: 'Not acceptable', 412: 'Precondition failed', 415: 'Unsupported media type', 416: 'Range not satisfiable' };

/** A 4xx that Express or one of its middlewares (http-errors, send) attached to the error, if any. */
function clientStatus(err: unknown): number | undefined {
  const e = err as { status?: unknown; statusCode?: unknown };
  const s = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  return s !== undefined && s >= 400 && s < 500 ? s : undefined;
}

/** The one place errors become HTTP: RFC 9457 problem+json with a stable `code`. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = res.getHeader('x-request-id');
    let status = 500;
    let body: Record<string, unknown>;
    if (err instanceof ZodError) {
      status = 400;
      const first = err.issues[0];
      const field = first?.path.join('.') || undefined;
      body = { code: 'validation_failed', title: 'Invalid request', detail: field ? `${field}: ${first.message}` : first?.message, field, issues: err.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) };
    } else if (err instanceof AppError) {
      status = STATUS[err.code] ?? 500;
      body = { code: err.code, title: err instanceof HttpProblem ? err.title : err.name, detail: err.message || undefined, ...(err.detail ?? {}) };
    } else if ((err as { type?: string }).type === 'entity.too.large') {
      status = 413;
      body = { code: 'too_large', title: 'Request too large', detail: 'the request body is over the size limit' };
    } else if ((err as { type?: string }).type === 'entity.parse.failed') {
      status = 400;
      body = { code: 'validation_failed', title: 'Invalid JSON', detail: 'the request body is not valid JSON' };
    } else if (clientStatus(err) !== undefined) {
      // Express and its static server say what the client did wrong (no such file, a malformed
      // URL): their status stands, and a client's mistake is not logged as our error.
      status = clientStatus(err)!;
      // The message only when the library marks it safe to show (a file-system error is not).
      const exposed = (err as { expose?: unknown }).expose === true && !CLIENT_TITLES[status];
      body = { code: CLIENT_CODES[status] ?? 'bad_request', title: CLIENT_TITLES[status] ?? 'Bad request', detail: exposed ? (err as Error).message : undefined };
      log.debug({ err: (err as Error).message, status, requestId }, 'client error');
    } else {
      log.error({ err: (err as Error).message, stack: (err as Error).stack, requestId }, 'unhandled error');
      body = { code: 'internal', title: 'Internal error', detail: 'something went wrong; quote the request id when reporting it' };
    }
    // RFC 6750: tell API clients their bearer token is the problem.
    if (body.code === 'invalid_token') res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${String(body.detail ?? '').replace(/["\\]/g, '')}"`);
    res.status(status).type('application/problem+json').json({ type: `https://bridge.invalid/problems/${body.code}`, status, instance: req.originalUrl, requestId, ...body });
  };
}
