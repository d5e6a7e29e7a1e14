import { describe, expect, it } from 'vitest';

import { PanoptesRateLimited, PanoptesRefused, PanoptesUnreadable } from '../../src/domain/ports/panoptes-client.js';
import type { SeedClassification } from '../support/panoptes-results-routes.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { collect, resultsAdapters } from '../support/results-adapters.js';
import { failure } from '../support/failure.js';

/*
 * The incremental pull (ClassificationSource.pullSince) against the Panoptes
 * double over real HTTP: paging by last_id, resuming from a cursor, 429,
 * the 422 without project id, and what never leaves the adapter (IPs).
 */

const double = panoptesDoublePerTest();

function volunteers(n: number, over: Partial<SeedClassification> = {}): SeedClassification[] {
  return Array.from({ length: n }, (_, i) => ({
    workflowId: '11',
    user: i % 3 === 0 ? null : { id: String(100 + (i % 7)), login: `volunteer${i % 7}` },
    userIp: `203.0.113.${i % 250}`,
    createdAt: new Date(Date.UTC(2026, 2, 1, 12, 0, i)).toISOString(),
    subjectIds: [String(1000 + (i % 5))],
    annotations: [{ task: 'T0', value: i % 2 }],
    metadata: { classifier_version: '2.0', user_language: 'en' },
    ...over,
  }));
}

describe('pulling classifications with last_id', () => {
  it('pages through more than 100 classifications oldest first, pages of at most 100, and stops on the empty page', async () => {
    const seeded = double.server.addClassifications(volunteers(250));
    const { classifications } = resultsAdapters(double.server);
    const pages = await collect(classifications.pullSince('1', null));
    expect(pages.map((p) => p.classifications.length)).toEqual([100, 100, 50]);
    const ids = pages.flatMap((p) => p.classifications.map((c) => c.id));
    expect(ids).toEqual(seeded.map((c) => c.id));
    expect(pages.map((p) => p.cursor)).toEqual([ids[99], ids[199], ids[249]]);

    const asked = double.server.requestsTo('listProjectClassifications');
    // Three pages and the empty one that says there is no more.
    expect(asked.map((r) => r.query.get('last_id'))).toEqual(['0', ids[99], ids[199], ids[249]]);
    for (const r of asked) {
      expect(r.query.get('project_id')).toBe('1');
      expect(r.query.get('page_size')).toBe('100');
      expect(r.headers.accept).toBe('application/vnd.api+json; version=1');
    }
  });

  it('maps the API form to RawClassification: stored annotations, workflow version, anonymous volunteers', async () => {
    const [anon, named] = double.server.addClassifications([
      ...volunteers(1, { workflowVersion: '4.2', goldStandard: true }),
      ...volunteers(1, { user: { id: '7', login: 'ada' }, subjectIds: ['1001', '1002'], annotations: [{ task: 'T0', value: 1 }, { task: 'T1', value: [{ tool: 0, x: 12.5, y: 40 }] }] }),
    ]);
    const { classifications } = resultsAdapters(double.server);
    const [page] = await collect(classifications.pullSince('1', null));
    expect(page.classifications).toEqual([
      {
        id: anon.id,
        workflowId: '11',
        workflowVersion: '4.2',
        userId: null,
        userName: null,
        createdAt: anon.createdAt,
        subjectIds: ['1000'],
        annotations: [{ task: 'T0', value: 0 }],
        metadata: { classifier_version: '2.0', user_language: 'en', workflow_version: '4.2' },
      },
      {
        id: named.id,
        workflowId: '11',
        workflowVersion: '1.1',
        userId: '7',
        userName: null,
        createdAt: named.createdAt,
        subjectIds: ['1001', '1002'],
        annotations: [{ task: 'T0', value: 1 }, { task: 'T1', value: [{ tool: 0, x: 12.5, y: 40 }] }],
        metadata: { classifier_version: '2.0', user_language: 'en', workflow_version: '1.1' },
      },
    ]);
  });

  it('resumes from a stored cursor without reading anything twice, and bounds a run with maxPages', async () => {
    double.server.addClassifications(volunteers(130));
    const { classifications } = resultsAdapters(double.server);
    const first = await collect(classifications.pullSince('1', null, { pageSize: 50, maxPages: 2 }));
    expect(first.map((p) => p.classifications.length)).toEqual([50, 50]);
    const cursor = first[1].cursor;

    // A crash here loses nothing: the cursor is all the state there is. New classifications arrive meanwhile.
    const late = double.server.addClassifications(volunteers(5));
    const rest = await collect(classifications.pullSince('1', cursor, { pageSize: 50 }));
    const again = rest.flatMap((p) => p.classifications.map((c) => c.id));
    expect(again).toHaveLength(35);
    expect(again.every((id) => BigInt(id) > BigInt(cursor))).toBe(true);
    expect(again.slice(-5)).toEqual(late.map((c) => c.id));
    expect(await collect(classifications.pullSince('1', rest.at(-1)!.cursor))).toEqual([]);
  });

  it('waits out a 429 as Retry-After says, and hands a long one to the job layer', async () => {
    double.server.addClassifications(volunteers(3));
    const { classifications, sleeps } = resultsAdapters(double.server, { maxRetryAfterMs: 60_000 });
    double.server.faults.push({ route: 'listProjectClassifications', kind: 'status', status: 429, retryAfter: 2 });
    const pages = await collect(classifications.pullSince('1', null));
    expect(pages[0].classifications).toHaveLength(3);
    expect(sleeps).toEqual([2000]);
    expect(double.server.requestsTo('listProjectClassifications').map((r) => r.status)).toEqual([429, 200, 200]);

    double.server.faults.push({ route: 'listProjectClassifications', kind: 'status', status: 429, retryAfter: 3600 });
    const e = await failure(collect(classifications.pullSince('1', null)));
    expect(e).toBeInstanceOf(PanoptesRateLimited);
    expect((e as PanoptesRateLimited).retryAfterMs).toBe(3_600_000);
  });

  it('refuses bad ids before sending, and reads an empty listing for a project the account may not see', async () => {
    double.server.addClassifications(volunteers(3));
    const { classifications } = resultsAdapters(double.server);
    await expect(collect(classifications.pullSince('1; drop', null))).rejects.toThrow(/not a Panoptes project id/);
    await expect(collect(classifications.pullSince('1', 'abc'))).rejects.toThrow(/not a Panoptes classification id/);
    expect(double.server.requestsTo('listProjectClassifications')).toHaveLength(0);

    // Panoptes filters by the account's rights instead of refusing: "nothing new" and "no rights" look alike.
    double.server.results.denyProject('1');
    expect(await collect(classifications.pullSince('1', null))).toEqual([]);
  });

  it('refuses an answer that would move the cursor backwards instead of looping', async () => {
    const { classifications } = resultsAdapters(double.server);
    double.server.faults.push({ route: 'listProjectClassifications', kind: 'replace-body', body: { classifications: [{ id: '3', annotations: [], created_at: '2026-03-01T00:00:00Z', links: { workflow: '11', subjects: ['1'] } }], meta: {} } });
    const e = await failure(collect(classifications.pullSince('1', '10')));
    expect(e).toBeInstanceOf(PanoptesUnreadable);
    expect(e.message).toMatch(/classification 3 when asked for those after 10/);
  });
});

describe('what the pull never passes on', () => {
  it('drops user_ip and unknown fields a Panoptes might add, and tolerates fields it does not use being absent', async () => {
    double.server.addClassifications(volunteers(2, { userIp: '198.51.100.23' }));
    const { classifications } = resultsAdapters(double.server);
    double.server.faults.push({
      route: 'listProjectClassifications',
      kind: 'add-fields',
      extra: { user_ip: '198.51.100.23', completed: true, some_future_field: { a: 1 } },
    });
    double.server.faults.push({ route: 'listProjectClassifications', kind: 'omit-fields', fields: ['updated_at', 'href', 'metadata'] });
    const [withExtra] = await collect(classifications.pullSince('1', null, { maxPages: 1 }));
    const [without] = await collect(classifications.pullSince('1', null, { maxPages: 1 }));
    for (const c of [...withExtra.classifications, ...without.classifications]) {
      const json = JSON.stringify(c);
      expect(json).not.toContain('198.51.100.23');
      expect(json).not.toMatch(/user_ip|some_future_field/);
      expect(Object.keys(c).sort()).toEqual(expect.arrayContaining(['id', 'workflowId', 'userId', 'createdAt', 'subjectIds', 'annotations']));
    }
    expect(without.classifications[0].metadata).toEqual({});
    expect(without.classifications[0].workflowVersion).toBeUndefined();
  });

  it('drops an IP key from the classifier metadata too', async () => {
    double.server.addClassifications(volunteers(1, { metadata: { user_ip: '192.0.2.1', ip: '192.0.2.1', session: 'abc' } }));
    const { classifications } = resultsAdapters(double.server);
    const [page] = await collect(classifications.pullSince('1', null));
    expect(page.classifications[0].metadata).toEqual({ session: 'abc', workflow_version: '1.1' });
  });

  it('refuses a classification it cannot attribute (no workflow or subjects) as unreadable', async () => {
    const { classifications } = resultsAdapters(double.server);
    double.server.faults.push({
      route: 'listProjectClassifications',
      kind: 'replace-body',
      body: { classifications: [{ id: '12', annotations: [], created_at: '2026-03-01T00:00:00Z', links: { workflow: '11' } }], meta: {} },
    });
    await expect(collect(classifications.pullSince('1', null))).rejects.toBeInstanceOf(PanoptesUnreadable);
  });
});

describe('the double, as Panoptes answers', () => {
  it('answers 422 to last_id without project_id, 403 without the classification scope, and rewrites next_href to the page\'s last id', async () => {
    const seeded = double.server.addClassifications(volunteers(3));
    const { http } = resultsAdapters(double.server);
    const e = await failure(http.send({ method: 'GET', path: '/classifications/project', query: { last_id: '0' }, what: 'listing' }));
    expect(e).toBeInstanceOf(PanoptesRefused);
    expect((e as PanoptesRefused).reason).toBe('unprocessable');
    expect(e.message).toMatch(/Project ID required if last_id is included/);

    const a = await http.send({ method: 'GET', path: '/classifications/project', query: { project_id: '1', last_id: '0', page_size: '2' }, what: 'listing' });
    const body = a.body as { classifications: unknown[]; meta: { classifications: Record<string, unknown> } };
    expect(body.classifications).toHaveLength(2);
    expect(body.meta.classifications).toMatchObject({ page: 1, page_size: 2, count: 0, page_count: 0, next_page: 2 });
    expect(body.meta.classifications.next_href).toBe(`/classifications/project?last_id=${seeded[1].id}&page_size=2&project_id=1`);

    const { http: narrow } = resultsAdapters(double.server, { scope: 'public project' });
    const refused = await failure(narrow.send({ method: 'GET', path: '/classifications/project', query: { project_id: '1' }, what: 'listing' }));
    expect((refused as PanoptesRefused).reason).toBe('forbidden');
  });
});
