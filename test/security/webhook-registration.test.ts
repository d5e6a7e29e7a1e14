import { describe, expect, it } from 'vitest';
import { setWebhook } from '../../src/domain/collections.js';
import { ValidationError } from '../../src/domain/errors.js';
import type { Collection } from '../../src/domain/model.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';

/**
 * Registration refuses what it can see without DNS (the delivery check sees
 * the rest): a 400 naming `url`, and nothing stored.
 */
function fakeRepos() {
  const stored: unknown[] = [];
  const repos = { collections: { update: async (_id: string, patch: unknown) => void stored.push(patch) } } as unknown as Repositories;
  return { repos, stored };
}
const pi = { username: 'alien', roles: ['pi'] };
const c = { id: 'c1', owner: 'alien' } as Collection;
const prod = { allowHttp: false, allowedHosts: [] };

describe('setWebhook', () => {
  it('refuses literal private, loopback, link-local and metadata hosts and plain http in production, with field url', async () => {
    for (const url of ['https://127.0.0.1:8080/api/v1/admin', 'https://10.0.0.1/', 'https://169.254.169.254/latest/meta-data/', 'https://[::1]/', 'https://[::ffff:7f00:1]/', 'https://localhost/', 'http://hooks.example.org/']) {
      const { repos, stored } = fakeRepos();
      const err = await setWebhook(repos, pi, c, url, prod).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).detail).toEqual({ field: 'url' });
      expect(stored).toEqual([]);
    }
    // The default, with no rules given, is production's.
    expect(await setWebhook(fakeRepos().repos, pi, c, 'https://127.0.0.1/').catch((e: unknown) => e)).toBeInstanceOf(ValidationError);
  });

  it('accepts a public https URL, an allow-listed internal one, and http in dev', async () => {
    for (const [url, rules] of [
      ['https://hooks.example.org/bridge', prod],
      ['https://10.1.2.3/hook', { allowHttp: false, allowedHosts: ['10.1.2.3'] }],
      ['http://127.0.0.1:9000/hook', { allowHttp: true, allowedHosts: [] }],
    ] as const) {
      const { repos, stored } = fakeRepos();
      const r = await setWebhook(repos, pi, c, url, rules);
      expect(r.url).toBe(url);
      expect(r.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
      expect(stored).toHaveLength(1);
    }
  });
});
