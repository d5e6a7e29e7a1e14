import { describe, expect, it } from 'vitest';

import { PanoptesHttpClient, type PanoptesHttpClientOptions } from '../../src/adapters/panoptes/panoptes-client.js';
import { NotFoundError, UpstreamError, UpstreamRefusedError } from '../../src/domain/errors.js';
import { PanoptesConflict, PanoptesNotFound, PanoptesRateLimited, PanoptesRefused, type NewSubject } from '../../src/domain/ports/panoptes-client.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET } from '../support/panoptes-server.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { failure } from '../support/failure.js';

/*
 * The port's typed errors, as the domain reads them: the HTTP client is the
 * only code that knows which status each one came from. Each keeps the name
 * of the service-wide error it extends, which the API shows as the title.
 */

const double = panoptesDoublePerTest();

function client(extra: Partial<PanoptesHttpClientOptions> = {}): PanoptesHttpClient {
  return new PanoptesHttpClient({
    baseUrl: double.server.url,
    clientId: PANOPTES_CLIENT_ID,
    clientSecret: PANOPTES_CLIENT_SECRET,
    baseDelayMs: 1,
    maxDelayMs: 4,
    maxAttempts: 2,
    sleep: async () => undefined,
    ...extra,
  });
}

function subject(setId: string, mime = 'image/png'): NewSubject {
  return { projectId: '1', subjectSetIds: [setId], locations: [{ [mime]: 'https://bucket.example/a.png' }], metadata: {}, externalId: 'a' };
}

describe('typed Panoptes errors', () => {
  it('a missing resource is PanoptesNotFound, still a NotFoundError by name', async () => {
    const e = await failure(client().getSubjectSet('999999'));
    expect(e).toBeInstanceOf(PanoptesNotFound);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.name).toBe('NotFoundError');
  });

  it('refusals carry the reason the domain decides on', async () => {
    const c = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });

    const unknownId = await failure(c.linkSubjects(set.id, ['424242']));
    expect(unknownId).toBeInstanceOf(PanoptesRefused);
    expect((unknownId as PanoptesRefused).reason).toBe('unprocessable');
    expect(unknownId.name).toBe('UpstreamRefusedError');

    const badLocation = await failure(c.createSubject(subject(set.id, 'image/x-fits')));
    expect((badLocation as PanoptesRefused).reason).toBe('invalid');

    const noScope = await failure(client({ scope: 'public user project' }).createSubject(subject(set.id)));
    expect((noScope as PanoptesRefused).reason).toBe('forbidden');
    // The status stays in the detail for API clients and logs.
    expect((noScope as PanoptesRefused).detail).toMatchObject({ status: 403 });
  });

  it('a token refused as soon as it was issued is a credentials refusal', async () => {
    await double.restart({ tokenMaxUses: 0 });
    const e = await failure(client().me());
    expect(e).toBeInstanceOf(PanoptesRefused);
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect((e as PanoptesRefused).reason).toBe('credentials');
  });

  it('throttling past the retries is PanoptesRateLimited with the wait asked for', async () => {
    double.server.faults.push({ route: 'me', kind: 'status', status: 429, retryAfter: 3600 });
    const e = await failure(client().me());
    expect(e).toBeInstanceOf(PanoptesRateLimited);
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.name).toBe('UpstreamError');
    expect((e as PanoptesRateLimited).retryAfterMs).toBe(3_600_000);
  });

  it('a conflict that outlasts the retries is PanoptesConflict, retryable later', async () => {
    const c = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'createSubject', kind: 'status', status: 409, times: 5 });
    const e = await failure(c.createSubject(subject(set.id)));
    expect(e).toBeInstanceOf(PanoptesConflict);
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.message).toMatch(/failed after 2 attempts: HTTP 409/);
  });

  it('what may have been committed stays AmbiguousRequestError, not a typed refusal', async () => {
    const c = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'createSubject', kind: 'commit-then-status', status: 502 });
    const e = await failure(c.createSubject(subject(set.id)));
    expect(e.name).toBe('AmbiguousRequestError');
    expect(e).not.toBeInstanceOf(PanoptesRefused);
  });
});
