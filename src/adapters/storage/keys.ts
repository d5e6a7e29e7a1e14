import { ValidationError } from '../../domain/errors.js';

/**
 * Object keys are shared by a filesystem and S3, and end up in public URLs, so
 * they are restricted to what is safe in all three without any escaping: a
 * key that passes here maps to exactly one file under an area's directory and
 * to exactly one URL path.
 */
export const MAX_KEY_LENGTH = 512;
/** Filesystems cap a name at 255 bytes; the FS store adds up to ~30 characters for temp and sidecar names. */
export const MAX_SEGMENT_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why a key is refused, or undefined when it is acceptable. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'must be a string';
  if (key.length === 0) return 'must not be empty';
  if (key.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
  if (key.startsWith('/')) return 'must be relative (no leading "/")';
  // Stricter than "no '..' segment": a key is never interpreted as a path by
  // anything downstream, so there is no reason to accept something a reviewer
  // has to think about.
  if (key.includes('..')) return 'must not contain ".."';
  for (const segment of key.split('/')) {
    if (segment.length === 0) return 'must not contain an empty segment';
    if (segment === '.') return 'must not contain a "." segment';
    if (!SEGMENT.test(segment)) return 'segments may only contain A-Z a-z 0-9 . _ -';
    if (segment.length > MAX_SEGMENT_LENGTH) return `segments must be at most ${MAX_SEGMENT_LENGTH} characters`;
  }
  return undefined;
}

export function isValidKey(key: unknown): key is string {
  return keyProblem(key) === undefined;
}

/** Throws ValidationError naming the key (truncated, it may be hostile) and the rule broken. */
export function assertValidKey(key: unknown): asserts key is string {
  const problem = keyProblem(key);
  if (problem === undefined) return;
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key) : String(key);
  throw new ValidationError(`invalid object key ${shown}: ${problem}`, { field: 'key', key: typeof key === 'string' ? key.slice(0, 80) : undefined });
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const EXTENSION = /^[a-z0-9]{1,16}$/;

/**
 * The permanent key of a public object: `ab/cd/<sha256>.<ext>`. Two prefix
 * levels keep directories (and S3 prefixes) small, and because the key is the
 * content, it can be cached forever (`immutable`) and never needs overwriting.
 */
export function contentHashKey(sha256: string, ext: string): string {
  const hash = sha256.toLowerCase();
  if (!SHA256_HEX.test(hash)) {
    throw new ValidationError('contentHashKey needs a hex SHA-256 (64 characters)', { field: 'sha256' });
  }
  const extension = ext.replace(/^\./, '').toLowerCase();
  if (!EXTENSION.test(extension)) {
    throw new ValidationError(`invalid file extension ${JSON.stringify(ext)} for a content-addressed key`, { field: 'ext' });
  }
  return `${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.${extension}`;
}

/** Percent-encodes each segment; for valid keys this is the identity, but it keeps URLs safe if rules ever loosen. */
export function encodeKeyForUrl(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export const DEFAULT_PUBLIC_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** Whole-object reads are buffered in memory; beyond this a caller should not be using get(). */
export const DEFAULT_MAX_GET_BYTES = 64 * 1024 * 1024;

/** Header-safe printable ASCII: these values are replayed verbatim as HTTP headers by both stores. */
const HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

export function assertPutOptions(opts: { contentType: string; cacheControl?: string; sha256?: string }): void {
  if (opts?.sha256 !== undefined && (typeof opts.sha256 !== 'string' || !SHA256_HEX.test(opts.sha256))) {
    throw new ValidationError('sha256 must be a lower-case hex SHA-256 (64 characters)', { field: 'sha256' });
  }
  if (typeof opts?.contentType !== 'string' || !HEADER_VALUE.test(opts.contentType) || opts.contentType.length > 255) {
    throw new ValidationError('contentType must be a non-empty printable ASCII header value', { field: 'contentType' });
  }
  if (opts.cacheControl !== undefined && (!HEADER_VALUE.test(opts.cacheControl) || opts.cacheControl.length > 255)) {
    throw new ValidationError('cacheControl must be a printable ASCII header value', { field: 'cacheControl' });
  }
}
