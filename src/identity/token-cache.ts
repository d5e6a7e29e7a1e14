import { createHash } from 'node:crypto';

/**
 * Remembers recent successful token checks so a notebook making many API
 * calls does not cost a round trip to the provider each time. Keys are
 * SHA-256 digests so a heap dump or debugger never shows usable tokens.
 * Entries never outlive the identity they describe, and revocation at the
 * provider takes effect within `ttlMs` at most.
 */
export class TokenCache<T extends { expiresAt?: Date }> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  static key(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: T): void {
    if (this.ttlMs <= 0) return;
    const until = Math.min(this.now() + this.ttlMs, value.expiresAt?.getTime() ?? Infinity);
    if (until <= this.now()) return;
    this.entries.delete(key);
    // Map keeps insertion order, so the first key is the oldest entry.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, until });
  }

  get size(): number {
    return this.entries.size;
  }
}
