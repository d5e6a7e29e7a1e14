import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquetjs from '@dsnp/parquetjs';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { Collection, Image } from '../../src/domain/model.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';
import type { ResultsFilter, ResultsOrder } from '../../src/domain/ports/results-read-repository.js';
import { resultsCollection, resultsPage, resultsSummary, type ResultRow } from '../../src/domain/results-table.js';
import { writeResultsCsv, writeResultsParquet } from '../../src/domain/results-download.js';
import type { QuestionReduction, SurveyReduction, DrawingReduction } from '../../src/results/index.js';
import { ANSWERS, CHOICES } from '../support/classifications.js';
import { DB_KINDS } from '../support/databases.js';
import { seedResults, type SeededResults } from '../support/results-seed.js';
import { artifacts, collection, csvObjects, publishSetting, seedImages } from '../publish/helpers.js';

/**
 * The PI's results table on stored reductions (as the reduction job leaves
 * them) and result effects (as the rules job leaves them): one row per
 * subject keyed by the PI's object id, with the reduction's numbers, the
 * private position, retired/flagged from done effects only; filters and
 * keyset pages that give every row exactly once; CSV and Parquet equal to
 * the JSON rows.
 */

async function allRows(repos: Repositories, c: Collection, f: ResultsFilter & { order?: ResultsOrder }, limit: number): Promise<{ rows: ResultRow[]; pages: number; total: number }> {
  const rows: ResultRow[] = [];
  let cursor: string | undefined;
  let pages = 0;
  let total = -1;
  do {
    const p = await resultsPage(repos, c, { ...f, cursor, limit });
    pages++;
    total = p.total;
    expect(p.items.length).toBeLessThanOrEqual(limit);
    rows.push(...p.items.map((i) => i.row));
    cursor = p.next ?? undefined;
  } while (cursor);
  return { rows, pages, total };
}

function hasPython(mod: string): boolean {
  try {
    execFileSync('python3', ['-c', `import ${mod}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

for (const kind of DB_KINDS) {
  describe(`results table on ${kind}`, () => {
    const env = publishSetting(kind);
    let c: Collection;
    let images: Image[];
    let seeded: SeededResults;
    let repos: Repositories;
    const OBJECT = '1567428592185376787'; // a 64-bit diaObjectId: must stay text
    const FROM_FILE = '609782943520154628';

    const setUp = async () => {
      if (c) return;
      repos = createRepositories(env.t.db);
      c = await collection(env.t.db);
      await artifacts(env.t.db, c);
      images = await seedImages(
        env.t.db,
        env.fs.store,
        c,
        Array.from({ length: 10 }, (_, i) => ({ png: env.stamps[i].png, stampIndex: i, ra: 150 + i / 100, dec: -2.5 - i / 100 })),
      );
      // The PI's table: an object id by image id for most images, by stamp index for one; two images have none.
      const objects: Record<string, Record<string, string | number>> = {};
      for (const img of images.slice(0, 7)) objects[img.id] = { '#diaObjectId': img.stamp_index === 0 ? OBJECT : `obj-${img.stamp_index}` };
      objects['7'] = { objectId: 'obj-by-stamp-7' };
      // Ids the FITS files gave (fits-cutouts.ts): used where the table has none (stamp 8); the table wins where it has one (stamp 1).
      for (const [stamp, id] of [[8, FROM_FILE], [1, 'file-id-the-table-overrides']] as const) {
        await env.t.db.updateTable('images').set({ source_object_id: id }).where('id', '=', images[stamp].id).execute();
      }
      await env.t.db.updateTable('collections').set({ extra_metadata: JSON.stringify({ columns: {}, objects }) }).where('id', '=', c.id).execute();
      c = await repos.collections.get(c.id);
      seeded = await seedResults(env.t.db, c.id, images.slice(0, 9).map((i) => i.id), { positions: new Map(images.map((i) => [i.id, { ra: i.ra, dec: i.dec }])) });
    };

    it('gives one row per subject, keyed by the object id, with the reduction\'s counts, the position and the effects', async () => {
      await setUp();
      const { rows, total } = await allRows(repos, c, {}, 100);
      expect(total).toBe(9);
      expect(rows.length).toBe(9);
      const byImage = new Map(images.map((i) => [i.id, i]));
      for (const s of seeded.reductions) {
        const row = rows.find((r) => r.subjectId === s.subjectId)!;
        const img = byImage.get(seeded.imageOf.get(s.subjectId)!)!;
        expect(row.imageId).toBe(img.id);
        expect(row.objectId).toBe(img.stamp_index === 0 ? OBJECT : img.stamp_index < 7 ? `obj-${img.stamp_index}` : img.stamp_index === 7 ? 'obj-by-stamp-7' : img.stamp_index === 8 ? FROM_FILE : null);
        expect(row.stampIndex).toBe(img.stamp_index);
        expect(row.ra).toBeCloseTo(img.ra!, 9);
        expect(row.dec).toBeCloseTo(img.dec!, 9);
        expect(row.collection).toBe(c.name);
        expect(row.datasetIds.length).toBe(3);
        expect(row.classifications).toBe(s.classifications);
        const t0 = s.tasks.T0 as QuestionReduction;
        const got = row.tasks.T0 as unknown as QuestionReduction;
        // Counts recomputed here from the reduction's own numbers: they add up to the kept classifications of T0.
        expect(Object.values(got.counts).reduce((a, b) => a + b, 0)).toBe(t0.classifications);
        expect(got.counts).toEqual(t0.counts);
        expect(got.consensus).toEqual(t0.consensus);
        expect(got.consensus.agreement).toBeCloseTo(got.consensus.num_votes / got.classifications, 12);
        expect((row.tasks.T1 as unknown as SurveyReduction).choices).toEqual((s.tasks.T1 as SurveyReduction).choices);
        const clusters = (row.tasks.T2 as unknown as DrawingReduction).tools.flatMap((t) => t.clusters);
        expect(clusters.length).toBeGreaterThan(0);
        for (const cl of clusters) {
          expect(cl.sky).toBeDefined();
          expect(Math.abs(cl.sky!.ra - img.ra!)).toBeLessThan(0.02);
        }
        expect(row.swap?.probability).toBe(s.swap!.probability);
        expect(row.retired).toBe(seeded.retired.has(s.subjectId));
        expect(row.retiredReason).toBe(seeded.retired.get(s.subjectId) ?? null);
        expect(row.flags).toEqual(seeded.flagged.get(s.subjectId) ?? []);
      }
      // The seed has both kinds, and a failed retirement that is not a retirement.
      expect(seeded.retired.size).toBeGreaterThan(0);
      expect(seeded.flagged.size).toBeGreaterThan(0);
    });

    it('filters by task, answer, agreement, retired and flagged; pages give every row exactly once in every order', async () => {
      await setUp();
      const t0 = (sid: string) => seeded.reductions.find((s) => s.subjectId === sid)!.tasks.T0 as QuestionReduction;
      const all = seeded.reductions.map((s) => s.subjectId);
      const cases: { f: ResultsFilter; want: string[] }[] = [
        { f: {}, want: all },
        { f: { task: 'T0' }, want: all },
        { f: { task: 'T9' }, want: [] },
        { f: { answer: 'Yes' }, want: all.filter((s) => t0(s).consensus.most_likely === 'Yes') },
        { f: { task: 'T0', answer: 'No' }, want: all.filter((s) => t0(s).consensus.most_likely === 'No') },
        { f: { minAgreement: 0.7 }, want: all.filter((s) => t0(s).consensus.agreement >= 0.7) },
        { f: { maxAgreement: 0.7 }, want: all.filter((s) => t0(s).consensus.agreement <= 0.7) },
        { f: { minAgreement: 0.5, maxAgreement: 0.9 }, want: all.filter((s) => t0(s).consensus.agreement >= 0.5 && t0(s).consensus.agreement <= 0.9) },
        { f: { retired: true }, want: [...seeded.retired.keys()] },
        { f: { retired: false }, want: all.filter((s) => !seeded.retired.has(s)) },
        { f: { flagged: true }, want: [...seeded.flagged.keys()] },
        { f: { flagged: false, answer: 'No' }, want: all.filter((s) => !seeded.flagged.has(s) && t0(s).consensus.most_likely === 'No') },
      ];
      expect(cases.filter((k) => k.want.length > 0 && k.want.length < all.length).length).toBeGreaterThan(5);
      for (const { f, want } of cases) {
        for (const order of ['subject', 'agreement', '-agreement'] as const) {
          for (const limit of [1, 2, 4, 500]) {
            const { rows, total, pages } = await allRows(repos, c, { ...f, order }, limit);
            const ids = rows.map((r) => r.subjectId);
            expect(new Set(ids).size, `${JSON.stringify(f)} ${order} ${limit}: no repeats`).toBe(ids.length);
            expect([...ids].sort(), `${JSON.stringify(f)} ${order} ${limit}`).toEqual([...want].sort());
            expect(total).toBe(want.length);
            expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
            if (order !== 'subject') {
              const a = rows.map((r) => (r.tasks.T0 as unknown as QuestionReduction).consensus.agreement);
              const sorted = [...a].sort((x, y) => (order === 'agreement' ? x - y : y - x));
              expect(a).toEqual(sorted);
            }
          }
        }
      }
    });

    it('summarises the tasks (workflow answer order) and the agreement histogram of the filtered set', async () => {
      await setUp();
      const agreements = seeded.reductions.map((s) => (s.tasks.T0 as QuestionReduction).consensus.agreement);
      const want = Array.from({ length: 10 }, (_, i) => agreements.filter((a) => Math.min(Math.floor(a * 10), 9) === i).length);
      const all = await resultsSummary(repos, c);
      expect(all.histogram.bins.map((b) => b.count)).toEqual(want);
      expect(all.histogram.none).toBe(0);
      expect(all.histogram.bins[9]).toEqual({ from: 0.9, to: 1, count: want[9] });
      expect(all.tasks.map((t) => [t.task, t.kind])).toEqual([['T0', 'question'], ['T1', 'survey'], ['T2', 'drawing']]);
      expect(all.tasks[0].labels).toEqual([...ANSWERS]);
      const retired = await resultsSummary(repos, c, { retired: true });
      expect(retired.histogram.bins.reduce((n, b) => n + b.count, 0)).toBe(seeded.retired.size);
    });

    it('refuses reviewers and other PIs; lets the owner, a delegate of the prefix and admins read', async () => {
      await setUp();
      await expect(resultsCollection(repos, { username: 'rev', roles: ['pi', 'reviewer'] }, c.id)).rejects.toThrow(/only the owner/);
      await expect(resultsCollection(repos, { username: 'other', roles: ['pi'] }, c.id)).rejects.toThrow(/only the owner/);
      expect((await resultsCollection(repos, { username: 'alien', roles: ['pi'] }, c.id)).id).toBe(c.id);
      expect((await resultsCollection(repos, { username: 'boss', roles: ['pi', 'admin'] }, c.id)).id).toBe(c.id);
      await repos.delegations.grant({ username: 'helper', prefix: 'u/alien/', grantedBy: 'boss' });
      expect((await resultsCollection(repos, { username: 'helper', roles: ['pi'] }, c.id)).id).toBe(c.id);
      await expect(resultsCollection(repos, { username: 'alien', roles: ['pi'] }, '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/not found/);
    });

    it('writes CSV and Parquet equal to the JSON rows (Parquet read back by another library, and by pyarrow when installed)', async () => {
      await setUp();
      const { rows } = await allRows(repos, c, {}, 100);
      const chunks: Uint8Array[] = [];
      const progress: number[] = [];
      expect(await writeResultsCsv(repos, c, (b) => void chunks.push(b), { onRows: (n) => progress.push(n) })).toBe(9);
      expect(progress.at(-1)).toBe(9);
      const csv = Buffer.concat(chunks).toString('utf8');
      const objs = csvObjects(csv);
      const header = csv.split('\n')[0].split(',');
      expect(header.slice(0, 10)).toEqual(['object_id', 'collection', 'dataset_ids', 'stamp_index', 'ra', 'dec', 'image_id', 'subject_id', 'workflow_id', 'classifications']);
      // Every answer of the workflow has a column, in the workflow's order, even one nobody chose for any subject.
      expect(header.filter((h) => h.startsWith('T0.votes.'))).toEqual(ANSWERS.map((a) => `T0.votes.${a}`));
      expect(header.filter((h) => h.startsWith('T1.choices.')).sort()).toEqual(CHOICES.map((a) => `T1.choices.${a}`).sort());
      expect(header.slice(-6)).toEqual(['swap_probability', 'swap_status', 'retired', 'retired_reason', 'flags', 'caesar_json']);
      expect(objs.length).toBe(rows.length);

      const pqChunks: Uint8Array[] = [];
      expect(await writeResultsParquet(repos, c, async (b) => void pqChunks.push(b))).toBe(9);
      const pq = Buffer.concat(pqChunks);
      const reader = await parquetjs.ParquetReader.openBuffer(pq);
      const fields = reader.getSchema().fields;
      expect(Object.keys(fields)).toEqual(header);
      expect(fields.ra.primitiveType).toBe('DOUBLE');
      expect(fields.stamp_index.primitiveType).toBe('INT32');
      expect(fields.classifications.primitiveType).toBe('INT64');
      expect(fields.retired.primitiveType).toBe('BOOLEAN');
      expect(fields.object_id.originalType).toBe('UTF8');
      const cursor = reader.getCursor();
      const prows: Record<string, unknown>[] = [];
      for (let r = (await cursor.next()) as Record<string, unknown> | null; r; r = (await cursor.next()) as Record<string, unknown> | null) prows.push(r);
      await reader.close();
      expect(prows.length).toBe(rows.length);

      for (const [i, row] of rows.entries()) {
        const k = objs[i];
        const p = prows[i];
        const t0 = row.tasks.T0 as unknown as QuestionReduction;
        const t1 = row.tasks.T1 as unknown as SurveyReduction;
        const t2 = row.tasks.T2 as unknown as DrawingReduction;
        expect(k.object_id).toBe(row.objectId ?? '');
        expect(p.object_id).toBe(row.objectId);
        expect(k.subject_id).toBe(row.subjectId);
        expect(p.subject_id).toBe(row.subjectId);
        expect(k.image_id).toBe(row.imageId);
        expect(k.dataset_ids).toBe(row.datasetIds.join(','));
        expect(Number(k.stamp_index)).toBe(row.stampIndex);
        expect(p.stamp_index).toBe(row.stampIndex);
        expect(Number(k.ra)).toBe(row.ra);
        expect(p.ra).toBe(row.ra);
        expect(p.dec).toBe(row.dec);
        expect(Number(k.classifications)).toBe(row.classifications);
        expect(p.classifications).toBe(BigInt(row.classifications));
        expect(k['T0.most_likely']).toBe(t0.consensus.most_likely);
        expect(p['T0.most_likely']).toBe(t0.consensus.most_likely);
        expect(Number(k['T0.agreement'])).toBe(t0.consensus.agreement);
        expect(p['T0.agreement']).toBe(t0.consensus.agreement);
        expect(p['T0.num_votes']).toBe(t0.consensus.num_votes);
        expect(Number(k['T0.total_votes'])).toBe(t0.consensus.total_votes);
        expect(p['T0.evenness']).toBe(t0.evenness);
        for (const a of ANSWERS) {
          expect(Number(k[`T0.votes.${a}`])).toBe(t0.counts[a] ?? 0);
          expect(p[`T0.votes.${a}`]).toBe(t0.counts[a] ?? 0);
        }
        for (const ch of CHOICES) expect(p[`T1.choices.${ch}`]).toBe(t1.choices.find((x) => x.choice === ch)?.choice_count ?? 0);
        const nClusters = t2.tools.reduce((n, t) => n + t.clusters.length, 0);
        expect(Number(k['T2.clusters'])).toBe(nClusters);
        expect(JSON.parse(p['T2.clusters_json'] as string).length).toBe(nClusters);
        expect(Number(k.swap_probability)).toBe(row.swap!.probability);
        expect(p.swap_probability).toBe(row.swap!.probability);
        expect(k.retired).toBe(String(row.retired));
        expect(p.retired).toBe(row.retired);
        expect(p.retired_reason).toBe(row.retiredReason);
        expect(k.flags).toBe(row.flags.join(';'));
        expect(k.caesar_json).toBe(Object.keys(row.caesar).length ? JSON.stringify(row.caesar) : '');
      }

      if (hasPython('pyarrow')) {
        const dir = await mkdtemp(join(tmpdir(), 'results-pq-'));
        try {
          await writeFile(join(dir, 'r.parquet'), pq);
          const out = execFileSync('python3', ['-c', 'import sys, json, pandas as pd; d = pd.read_parquet(sys.argv[1]); print(json.dumps({"n": len(d), "subjects": list(d["subject_id"]), "yes": [int(x) for x in d["T0.votes.Yes"]], "ra": list(d["ra"])}))', join(dir, 'r.parquet')]).toString();
          const py = JSON.parse(out) as { n: number; subjects: string[]; yes: number[]; ra: number[] };
          expect(py.n).toBe(rows.length);
          expect(py.subjects).toEqual(rows.map((r) => r.subjectId));
          expect(py.yes).toEqual(rows.map((r) => (r.tasks.T0 as unknown as QuestionReduction).counts.Yes ?? 0));
          expect(py.ra).toEqual(rows.map((r) => r.ra));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      } else {
        console.info('python3 pyarrow is not installed: the pandas read of the Parquet file is skipped');
      }
      void readFile;
    });

    it("carries Caesar's own reductions of a subject beside the bridge's, by reducer key, in the rows and the CSV", async () => {
      await setUp();
      const [first, second] = seeded.reductions;
      const consensus = { most_likely: 'Yes', num_votes: 7, agreement: 0.7 };
      await repos.caesarReductions.upsertIfNewer({ workflowId: first.workflowId, subjectId: first.subjectId, reducerKey: 'consensus', collectionId: c.id, imageId: seeded.imageOf.get(first.subjectId)!, data: consensus, caesarId: '91', caesarUpdatedAt: '2026-12-01T10:00:00.000Z' });
      const { rows } = await allRows(repos, c, {}, 100);
      expect(rows.find((r) => r.subjectId === first.subjectId)!.caesar).toEqual({ consensus });
      expect(rows.find((r) => r.subjectId === second.subjectId)!.caesar).toEqual({});
      const chunks: Uint8Array[] = [];
      await writeResultsCsv(repos, c, (b) => void chunks.push(b));
      const objs = csvObjects(Buffer.concat(chunks).toString('utf8'));
      expect(JSON.parse(objs.find((o) => o.subject_id === first.subjectId)!.caesar_json)).toEqual({ consensus });
      expect(objs.find((o) => o.subject_id === second.subjectId)!.caesar_json).toBe('');
    });
  });
}
