import { describe, expect, it } from 'vitest';
import { isRspUsername, parseDataRights, parseGroups, rolesFor } from '../../src/identity/claims.js';
import { looksLikeJwt, safeReturnTo } from '../../src/identity/oidc-identity.js';
import { TokenCache } from '../../src/identity/token-cache.js';

describe('claims', () => {
  it('usernames follow Gafaelfawr: lowercase, single inner hyphens, a letter after the first character, at most 64', () => {
    for (const ok of ['alien', 'rev', 'bot-notebook', 'ab', 'ab-c-d', '1a', 'a'.repeat(64)]) expect(isRspUsername(ok), ok).toBe(true);
    // 'a' and 'a1' look harmless but Gafaelfawr's regex refuses them too.
    for (const bad of ['', 'a', 'a1', 'Alien', '123', 'a--b', '-a', 'a-', 'a.b', 'a_b', 'a b', 'a'.repeat(65), 'ä', 42, undefined]) expect(isRspUsername(bad), String(bad)).toBe(false);
  });

  it('groups as strings or {name}, anything else dropped', () => {
    expect(parseGroups(['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(parseGroups([{ name: 'g_users', id: 1 }, { name: 'epo-reviewers' }])).toEqual(['g_users', 'epo-reviewers']);
    expect(parseGroups([{ id: 1 }, 3, null, '', { name: 7 }, 'ok'])).toEqual(['ok']);
    expect(parseGroups('epo-admins')).toEqual([]);
    expect(parseGroups(undefined)).toEqual([]);
  });

  it('data rights from a space-separated string or an array', () => {
    expect(parseDataRights('dp1  dr1 dp1')).toEqual(['dp1', 'dr1']);
    expect(parseDataRights(['dp1', 2, 'dr1'])).toEqual(['dp1', 'dr1']);
    expect(parseDataRights(undefined)).toEqual([]);
    expect(parseDataRights('')).toEqual([]);
  });

  it('everyone is a PI; reviewer and admin only by group', () => {
    expect(rolesFor([], ['epo-reviewers'], ['epo-admins'])).toEqual(['pi']);
    expect(rolesFor(['epo-reviewers', 'epo-admins'], ['epo-reviewers'], ['epo-admins'])).toEqual(['pi', 'reviewer', 'admin']);
    expect(rolesFor(['EPO-REVIEWERS'], ['epo-reviewers'], [])).toEqual(['pi']);
  });
});

describe('token shapes', () => {
  it('tells JWTs from Gafaelfawr tokens', () => {
    expect(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln')).toBe(true);
    expect(looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.')).toBe(true);
    expect(looksLikeJwt('gt-Qz7vTbB1yGZ1bWcRr8LbAg.j9Xm0rCqA2W1sUvE4kTn5w')).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(looksLikeJwt('W10.e30.x')).toBe(false);
  });

  it('returnTo stays a local path', () => {
    expect(safeReturnTo('/a/b?c=d#e')).toBe('/a/b?c=d#e');
    for (const bad of ['', 'a', 'http://x', '//x', '/\\x', '/a\nb', '/a\\b']) expect(safeReturnTo(bad), bad).toBe('/');
  });
});

describe('token cache', () => {
  it('keys by digest, expires entries, never outlives the identity, stays bounded', () => {
    let t = 1_000_000;
    const cache = new TokenCache<{ expiresAt?: Date; u: string }>(60_000, 2, () => t);
    const k = TokenCache.key('secret-token');
    expect(k).not.toContain('secret');
    cache.set(k, { u: 'a' });
    expect(cache.get(k)?.u).toBe('a');
    t += 60_001;
    expect(cache.get(k)).toBeUndefined();

    cache.set('short', { u: 'b', expiresAt: new Date(t + 5_000) });
    t += 5_001;
    expect(cache.get('short')).toBeUndefined();
    cache.set('dead', { u: 'c', expiresAt: new Date(t - 1) });
    expect(cache.get('dead')).toBeUndefined();

    cache.set('1', { u: '1' });
    cache.set('2', { u: '2' });
    cache.set('3', { u: '3' });
    expect(cache.size).toBe(2);
    expect(cache.get('1')).toBeUndefined();
    expect(cache.get('3')?.u).toBe('3');
  });

  it('a zero TTL disables it', () => {
    const cache = new TokenCache<{ expiresAt?: Date }>(0, 10);
    cache.set('k', {});
    expect(cache.get('k')).toBeUndefined();
  });
});
