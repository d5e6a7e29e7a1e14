import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { RetrieveArtifactsSource } from '../../src/adapters/butler/prefix-source.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { convertGroup, pollCollection, retrieveArtifact, type PipelineDeps } from '../../src/domain/pipeline.js';
import { applyPolicy } from '../../src/domain/review.js';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { createLogger } from '../../src/app/logger.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { formatCard, parseHeader, type FitsValue } from '../../src/imaging/fits/header.js';
import { observationTime } from '../../src/imaging/fits/observation-time.js';
import { freshDatabase, type TestDb } from '../support/databases.js';
import { createRepositories } from '../../src/db/repositories/index.js';

function header(cards: [string, FitsValue][]) {
  const text = [['SIMPLE', true] as [string, FitsValue], ...cards].map(([k, v]) => formatCard(k, v)).join('') + 'END'.padEnd(80);
  return parseHeader(new TextEncoder().encode(text.padEnd(2880)))!.header;
}

describe('observation time from FITS headers', () => {
  // MJD 61000.25 = 2025-11-21T06:00:00 UTC (astropy Time(61000.25, format='mjd').isot).
  it('reads DATE-OBS (date or date-time) and MJD-OBS, and calls anything else unknown', () => {
    expect(observationTime(header([['DATE-OBS', '2026-11-20T03:04:05.5']]))).toBe('2026-11-20T03:04:05.500Z');
    expect(observationTime(header([['DATE-OBS', '2026-11-20']]))).toBe('2026-11-20T00:00:00.000Z');
    expect(observationTime(header([['MJD-OBS', 61000.25]]))).toBe('2025-11-21T06:00:00.000Z');
    expect(observationTime(header([['DATE-OBS', 'yesterday'], ['MJD-OBS', 61000]]))).toBe('2025-11-21T00:00:00.000Z');
    expect(observationTime(header([['MJD-OBS', 12]]))).toBeNull();
    expect(observationTime(header([]))).toBeNull();
  });
});

describe('the prompt embargo through the pipeline', () => {
  let t: TestDb;
  let dir: string;
  beforeAll(async () => {
    t = await freshDatabase('pglite');
    dir = await mkdtemp(join(tmpdir(), 'obs-time-'));
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('DATE-OBS reaches the image; prompt data 10 hours old is refused under the 80-hour embargo, 100 hours old is not', async () => {
    const root = join(dir, 'artifacts');
    const now = new Date();
    const d: PipelineDeps = { repos: createRepositories(t.db), store: new FsObjectStore({ root: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1:1' }), sources: (c) => new RetrieveArtifactsSource({ root: c.source_root! }), convertThreads: 1, log: createLogger('silent') };
    for (const [run, hours] of [['u/alien/fresh', 10], ['u/alien/older', 100]] as const) {
      await writeDemoArtifacts(root, { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: 2, size: 32, observedAt: new Date(now.getTime() - hours * 3_600_000) });
      const c = await createCollection(t.db, { owner: 'alien', repository: 'prompt', name: run, sourceKind: 'prefix', sourceRoot: root, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'prompt') }, 'alien');
      await t.db.updateTable('collections').set({ panel_approval: 'approved' }).where('id', '=', c.id).execute();
      const { newArtifactIds } = await pollCollection(d, c.id);
      let group: string | undefined;
      for (const id of newArtifactIds) group = (await retrieveArtifact(d, id)).readyGroup?.groupKey ?? group;
      await convertGroup(d, c.id, group!);
      const imgs = await t.db.selectFrom('images').select('observed_at').where('collection_id', '=', c.id).execute();
      expect(imgs).toHaveLength(2);
      for (const i of imgs) expect(Math.abs(new Date(i.observed_at!).getTime() - (now.getTime() - hours * 3_600_000))).toBeLessThan(1000);
      await applyPolicy({ repos: createRepositories(t.db), policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => now }, log: d.log }, c.id);
    }
    const rows = await t.db.selectFrom('images').innerJoin('collections', 'collections.id', 'images.collection_id').select(['collections.name', 'images.verdict', 'images.verdict_reasons']).execute();
    const fresh = rows.filter((r) => r.name === 'u/alien/fresh');
    const older = rows.filter((r) => r.name === 'u/alien/older');
    expect(fresh.every((r) => r.verdict === 'rejected' && r.verdict_reasons.some((x) => /80-hour embargo/.test(x)))).toBe(true);
    expect(older.every((r) => r.verdict === 'pending_review')).toBe(true);
  });
});
