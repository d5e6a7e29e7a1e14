import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a secret the client sent with the one expected, in constant time.
 * Lengths are compared as bytes: a crafted value with as many characters but
 * more bytes (any non-ASCII character) would otherwise make timingSafeEqual
 * throw, and a forged token would earn a 500 instead of a 403.
 */
export function sameSecret(sent: string | undefined, expected: string): boolean {
  if (!sent) return false;
  const a = Buffer.from(sent, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
