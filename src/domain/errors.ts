/**
 * One family of errors for the whole service. Each has a stable `code` that
 * clients can rely on; the HTTP layer maps them to problem+json once.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  /** Extra, non-secret detail for clients (e.g. the field that failed). */
  readonly detail?: Record<string, unknown>;
  constructor(message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    if (detail) this.detail = detail;
  }
}

export class ValidationError extends AppError {
  readonly code = 'validation_failed';
}
export class NotFoundError extends AppError {
  readonly code = 'not_found';
}
export class ConflictError extends AppError {
  readonly code = 'conflict';
}
export class ForbiddenError extends AppError {
  readonly code = 'forbidden';
}
export class IllegalTransitionError extends AppError {
  readonly code = 'illegal_transition';
}
/** An upstream (Butler, S3, Zooniverse) failed in a way that may pass: retry later. */
export class UpstreamError extends AppError {
  readonly code = 'upstream_unavailable';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    detail?: Record<string, unknown>,
  ) {
    super(message, detail);
  }
}
/** An upstream refused for good (unknown collection, no permission): retrying cannot help. */
export class UpstreamRefusedError extends AppError {
  readonly code = 'upstream_refused';
}
