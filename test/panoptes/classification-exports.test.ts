import { describe, expect, it } from 'vitest';

import { ExportIncompleteError, ExportNotReadyError } from '../../src/domain/ports/classification-source.js';
import { PanoptesNotFound, PanoptesRefused } from '../../src/domain/ports/panoptes-client.js';
import { PanoptesClassificationSource } from '../../src/adapters/panoptes/classification-source.js';
import { EXPORT_COLUMNS } from '../support/panoptes-export-csv.js';
import { parseCsv } from '../support/panoptes-server.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { collect, resultsAdapters, text } from '../support/results-adapters.js';
import { failure } from '../support/failure.js';

/*
 * Classification exports against the Panoptes double over real HTTP: the
 * creating -> ready lifecycle, the one-per-day limit that Panoptes enforces
 * by accepting and silently cancelling, the gzipped download (with and
 * without Content-Encoding), a file cut short, and the outbound guard.
 */

const double = panoptesDoublePerTest();
const HOUR = 60 * 60_000;
const project = { kind: 'project', id: '1' } as const;

/** A clock the test moves; the double and the adapters both read it. */
function clock(start = Date.UTC(2026, 2, 1, 9, 0, 0)) {
  let t = start;
  double.server.results.now = () => t;
  return { advance: (ms: number) => (t += ms), now: () => t };
}

function seed(n = 4) {
  double.server.results.addWorkflow({
    id: '11',
    displayName: 'Is it a merger?',
    version: '3.1',
    tasks: { T0: { type: 'single', question: 'Is it a merger?', answers: [{ label: 'Yes' }, { label: 'No' }] } },
  });
  const set = double.server.seedSubjectSet({ displayName: 'DP1' });
  const subjects = double.server.seedSubjects(set.id, 2);
  return double.server.addClassifications(
    Array.from({ length: n }, (_, i) => ({
      workflowId: '11',
      user: i === 0 ? null : { id: String(40 + i), login: `volunteer${i}` },
      userIp: '198.51.100.77',
      subjectIds: [subjects[i % 2].id],
      annotations: [{ task: 'T0', value: i % 2 }],
    })),
  );
}

describe('the export lifecycle', () => {
  it('requests, sees creating, then ready, and streams the inflated CSV with the columns Panoptes writes', async () => {
    const t = clock();
    const rows = seed();
    const { classifications } = resultsAdapters(double.server);
    expect(await classifications.exportStatus(project)).toEqual({ state: 'none', updatedAt: null, nextPossibleAt: new Date(t.now()).toISOString() });
    await expect(classifications.openExport(project)).rejects.toBeInstanceOf(ExportNotReadyError);

    const asked = await classifications.requestExport(project);
    expect(asked.state).toBe('requested');
    const post = double.server.requestsTo('createClassificationsExport')[0];
    expect(post.status).toBe(201);
    expect(JSON.parse(post.body)).toEqual({ media: { content_type: 'text/csv' } });

    t.advance(60_000);
    expect((await classifications.exportStatus(project)).state).toBe('creating');
    t.advance(60_000);
    const ready = await classifications.exportStatus(project);
    expect(ready.state).toBe('ready');
    // The export answers our request: built at or after it, by Panoptes' clock.
    expect(Date.parse(ready.updatedAt!)).toBeGreaterThanOrEqual(Date.parse(asked.requestedAt!));

    const stream = await classifications.openExport(project);
    expect(stream.updatedAt).toBe(ready.updatedAt);
    const csv = parseCsv(await text(stream));
    expect(Object.keys(csv[0])).toEqual([...EXPORT_COLUMNS]);
    expect(csv.map((r) => r.classification_id)).toEqual(rows.map((r) => r.id));
    expect(csv[0]).toMatchObject({ user_id: '', workflow_id: '11', workflow_name: 'Is it a merger?', workflow_version: '3.1', subject_ids: rows[0].subjectIds[0] });
    expect(csv[0].user_name).toMatch(/^not-logged-in-[0-9a-f]+$/);
    expect(csv[1]).toMatchObject({ user_name: 'volunteer1', user_id: '41' });
    expect(JSON.parse(csv[1].annotations)).toEqual([{ task: 'T0', task_label: 'Is it a merger?', value: 'No' }]);
    expect(JSON.parse(csv[0].subject_data)).toEqual({ [rows[0].subjectIds[0]]: { retired: null, '#i': 0 } });
    // The export carries a hash in user_ip, never the address: the CSV reader drops the column anyway.
    expect(JSON.stringify(csv)).not.toContain('198.51.100.77');

    const download = double.server.requestsTo('downloadExport')[0];
    expect(download.headers.authorization).toBeUndefined();
    expect(download.status).toBe(200);
  });

  it('reads the workflow export the same way', async () => {
    clock();
    seed(3);
    double.server.results.exports.exportPollsUntilReady = 0;
    const { classifications } = resultsAdapters(double.server);
    expect((await classifications.requestExport({ kind: 'workflow', id: '11' })).state).toBe('requested');
    expect(parseCsv(await text(await classifications.openExport({ kind: 'workflow', id: '11' })))).toHaveLength(3);
    expect(double.server.requestsTo('createClassificationsExport')[0].path).toBe('/api/workflows/11/classifications_export');
  });

  it('streams a large export in many chunks', async () => {
    clock();
    seed(3000);
    double.server.results.exports.exportPollsUntilReady = 0;
    const { classifications } = resultsAdapters(double.server);
    await classifications.requestExport(project);
    const chunks = await collect(await classifications.openExport(project));
    expect(chunks.length).toBeGreaterThan(3);
    expect(parseCsv(Buffer.concat(chunks).toString('utf8'))).toHaveLength(3000);
  });
});

describe('one export a day', () => {
  it('does not send a request Panoptes would cancel, and says when the next one will be honoured', async () => {
    const t = clock();
    seed();
    const { classifications } = resultsAdapters(double.server);
    const first = await classifications.requestExport(project);
    // Still creating: the pending request is ours; nothing is sent.
    expect(await classifications.requestExport(project)).toEqual({ state: 'creating', requestedAt: first.requestedAt, nextPossibleAt: first.nextPossibleAt });
    await classifications.exportStatus(project);
    const ready = await classifications.exportStatus(project);

    t.advance(2 * HOUR);
    const limited = await classifications.requestExport(project);
    expect(limited).toEqual({ state: 'rate_limited', readyAt: ready.updatedAt, nextPossibleAt: new Date(Date.parse(ready.updatedAt!) + 24 * HOUR + 10 * 60_000).toISOString() });
    expect(double.server.requestsTo('createClassificationsExport')).toHaveLength(1);
    // Asking for "one built after the request" is answered by the ready export, without a request.
    expect(await classifications.requestExport(project, { notOlderThan: first.requestedAt })).toMatchObject({ state: 'ready', readyAt: ready.updatedAt });

    t.advance(23 * HOUR);
    const again = await classifications.requestExport(project);
    expect(again.state).toBe('requested');
    expect(double.server.results.exports.exportOf('project', '1')).toMatchObject({ cancelled: 0, honoured: [expect.any(Number), expect.any(Number)] });
  });

  it('the double accepts an extra request and cancels it silently: the medium stays creating over the older file', async () => {
    const t = clock();
    seed(2);
    const { http, classifications } = resultsAdapters(double.server);
    const post = () => http.send({ method: 'POST', path: '/projects/1/classifications_export', body: { media: { content_type: 'text/csv' } }, what: 'export' });
    await post();
    await classifications.exportStatus(project);
    expect((await classifications.exportStatus(project)).state).toBe('ready');
    double.server.addClassifications([{ workflowId: '11', subjectIds: [double.server.allSubjects()[0].id], annotations: [] }]);

    t.advance(HOUR);
    expect((await post()).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await classifications.exportStatus(project)).state).toBe('creating');
    expect(double.server.results.exports.exportOf('project', '1')!.cancelled).toBe(1);
    await expect(classifications.openExport(project)).rejects.toBeInstanceOf(ExportNotReadyError);

    // The adapter, meeting such a medium (the PI asked in the Lab, say), waits a day from it, then asks and is honoured.
    const stuck = await classifications.requestExport(project);
    expect(stuck.state).toBe('creating');
    t.advance(Date.parse(stuck.nextPossibleAt) - t.now());
    const asked = await classifications.requestExport(project);
    expect(asked.state).toBe('requested');
    await classifications.exportStatus(project);
    const ready = await classifications.exportStatus(project);
    expect(ready.state).toBe('ready');
    expect(parseCsv(await text(await classifications.openExport(project)))).toHaveLength(3);
  });

  it('a resource the account cannot see is refused at the request, not taken for "none yet"', async () => {
    clock();
    seed(1);
    double.server.results.denyProject('1');
    const { classifications } = resultsAdapters(double.server);
    expect((await classifications.exportStatus(project)).state).toBe('none');
    await expect(classifications.requestExport(project)).rejects.toBeInstanceOf(PanoptesNotFound);
  });
});

describe('downloading', () => {
  async function readyExport(extra: Parameters<typeof resultsAdapters>[2] = {}) {
    clock();
    seed(50);
    double.server.results.exports.exportPollsUntilReady = 0;
    const adapters = resultsAdapters(double.server, {}, extra);
    await adapters.classifications.requestExport(project);
    return adapters;
  }

  it('inflates gzip whether or not Content-Encoding says so, and passes a plain CSV as it is', async () => {
    const { classifications } = await readyExport();
    const gz = await text(await classifications.openExport(project));
    expect(double.server.requestsTo('downloadExport')[0].status).toBe(200);
    double.server.results.exports.exportEncoding = 'gzip-no-header';
    const bare = await text(await classifications.openExport(project));
    double.server.results.exports.exportEncoding = 'identity';
    const plain = await text(await classifications.openExport(project));
    expect(gz.startsWith(`${EXPORT_COLUMNS.join(',')}\n`)).toBe(true);
    expect(parseCsv(gz)).toHaveLength(50);
    // Same rows (user_ip hashes differ per dump, as in Panoptes, but each dump is downloaded as stored).
    expect(bare).toBe(gz);
    expect(plain).toBe(gz);
  });

  it('a gzip file cut short in storage is an ExportIncompleteError, not a shorter CSV', async () => {
    const { classifications } = await readyExport();
    double.server.faults.push({ route: 'downloadExport', kind: 'truncate-body' });
    const stream = await classifications.openExport(project);
    const e = await failure(collect(stream));
    expect(e).toBeInstanceOf(ExportIncompleteError);
    expect(e.message).toMatch(/ended before its end/);
    expect(e.message).not.toMatch(/signature=/);
  });

  it('a connection dropped mid-file is an ExportIncompleteError too, plain CSV included', async () => {
    const { classifications } = await readyExport();
    double.server.faults.push({ route: 'downloadExport', kind: 'cut-body' });
    await expect(collect(await classifications.openExport(project))).rejects.toBeInstanceOf(ExportIncompleteError);
    double.server.results.exports.exportEncoding = 'identity';
    double.server.faults.push({ route: 'downloadExport', kind: 'cut-body' });
    await expect(collect(await classifications.openExport(project))).rejects.toBeInstanceOf(ExportIncompleteError);
  });

  it('an expired link earns one fresh read of the medium', async () => {
    const { classifications } = await readyExport();
    double.server.faults.push({ route: 'downloadExport', kind: 'status', status: 403, message: 'Request has expired' });
    expect(parseCsv(await text(await classifications.openExport(project)))).toHaveLength(50);
    expect(double.server.requestsTo('downloadExport').map((r) => r.status)).toEqual([403, 200]);
  });

  it('follows the signed link only through the outbound guard: http and private addresses are refused by default', async () => {
    await readyExport();
    const { http } = resultsAdapters(double.server);
    const guarded = new PanoptesClassificationSource(http);
    const e = await failure(guarded.openExport(project));
    expect(e).toBeInstanceOf(PanoptesRefused);
    expect(e.message).toMatch(/refused: not https/);
    const https = new PanoptesClassificationSource(http, { download: { allowHttp: true } });
    expect((await failure(https.openExport(project))).message).toMatch(/refused: private address/);
    expect(double.server.requestsTo('downloadExport')).toHaveLength(0);
  });
});
