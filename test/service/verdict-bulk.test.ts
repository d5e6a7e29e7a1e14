import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createBatch } from '../../src/db/repositories/batches.js';
import { applyPolicy } from '../../src/domain/review.js';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { createLogger } from '../../src/app/logger.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { NewImage, VerdictWrite } from '../../src/domain/ports/images-repository.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/**
 * A policy run records its verdicts in one statement (images.recordVerdicts)
 * where it took three per image: the result must be what the row-by-row
 * writes left. Every image gets its verdict; approved and rejected ones
 * leave quarantine with one transition each; pending and held ones stay; an
 * image that already left quarantine (a reviewer was faster) is left as the
 * reviewer left it, with no transition.
 */
for (const kind of DB_KINDS) {
  describe(`policy verdicts in bulk on ${kind}`, () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await freshDatabase(kind);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('record each verdict, move only what is still quarantined, and log one transition per move', async () => {
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: 'u/alien/verdicts', sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['r'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      const repos = createRepositories(t.db);
      const rows: NewImage[] = Array.from({ length: 1200 }, (_, i) => ({ collectionId: c.id, groupKey: `g${Math.floor(i / 100)}`, stampIndex: i % 100, state: 'quarantined', ra: 1, dec: 2, wcsQuality: 'full', width: 8, height: 8, bytes: 10, sha256: `s${i}`, quarantineKey: `k${i}`, bands: ['r'], colour: {}, error: null }));
      const images = await repos.transaction((tx) => tx.images.insert(rows, 'converter'));
      // A reviewer got to the first image before the policy's write.
      await repos.images.transition(images[0].id, 'quarantined', 'approved', 'reviewer', { reviewed_by: 'reviewer' });
      const outcomes = ['auto_approved', 'rejected', 'pending_review', 'held'] as const;
      const at = new Date('2026-12-06T06:00:00Z');
      const writes: VerdictWrite[] = images.map((img, i) => {
        const verdict = i === 0 ? 'rejected' : outcomes[i % 4];
        const to = verdict === 'auto_approved' ? 'approved' : verdict === 'rejected' ? 'rejected' : undefined;
        return { id: img.id, changes: { verdict, verdict_reasons: [`reason "${i}", {x}`], verdict_rules: [{ id: `rule-${i % 4}`, description: 'a rule' }], strip_coordinates: i % 2 === 0, one_incomplete_set: i % 3 === 0, policy_ref: 'rubin-default@3', policy_digest: 'abc', evaluated_at: at }, ...(to ? { to } : {}), reason: `because ${i}` };
      });
      await repos.transaction((tx) => tx.images.recordVerdicts(writes, 'policy:rubin-default@3'));

      const after = new Map((await t.db.selectFrom('images').selectAll().where('collection_id', '=', c.id).execute()).map((r) => [r.id, r]));
      const moved = await t.db.selectFrom('transitions').select(['entity_id', 'from_state', 'to_state', 'actor', 'reason']).where('entity', '=', 'image').where('actor', '=', 'policy:rubin-default@3').execute();
      const movedIds = new Map(moved.map((m) => [m.entity_id, m]));
      expect(moved).toHaveLength(movedIds.size);
      for (const [i, w] of writes.entries()) {
        const img = after.get(w.id)!;
        if (i === 0) {
          // The reviewer's approval stands: like a row-by-row transition that found the image moved, nothing is written.
          expect([img.state, img.verdict, movedIds.has(w.id)]).toEqual(['approved', null, false]);
          continue;
        }
        expect(img.verdict).toBe(w.changes.verdict);
        expect(img.verdict_reasons).toEqual(w.changes.verdict_reasons);
        expect(img.verdict_rules).toEqual(w.changes.verdict_rules);
        expect([img.strip_coordinates, img.one_incomplete_set, img.policy_ref, img.policy_digest]).toEqual([w.changes.strip_coordinates, w.changes.one_incomplete_set, 'rubin-default@3', 'abc']);
        expect(new Date(img.evaluated_at!).toISOString()).toBe(at.toISOString());
        if (w.to) {
          expect(img.state).toBe(w.to);
          expect(movedIds.get(w.id)).toEqual({ entity_id: w.id, from_state: 'quarantined', to_state: w.to, actor: 'policy:rubin-default@3', reason: `because ${i}` });
        } else {
          expect(img.state).toBe('quarantined');
          expect(movedIds.has(w.id)).toBe(false);
        }
      }
      // 1199 judged by the policy: a quarter approved, a quarter rejected (the first image not among the moves).
      expect(moved.filter((m) => m.to_state === 'approved')).toHaveLength(299);
      expect(moved.filter((m) => m.to_state === 'rejected')).toHaveLength(300);
    });

    it('two policy runs on one collection at once judge each image once, the cap counted across both', async () => {
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: 'u/alien/two-runs', sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      const repos = createRepositories(t.db);
      for (let b = 0; b < 3; b++) {
        const batch = await createBatch(t.db, c.id);
        await repos.images.insert(Array.from({ length: 60 }, (_, k) => ({ collectionId: c.id, groupKey: `{"tract":${b}}`, stampIndex: k, state: 'quarantined' as const, ra: 150, dec: 2, wcsQuality: 'full' as const, width: 64, height: 64, bytes: 100, sha256: `${b}-${k}`, quarantineKey: `images/x/${b}-${k}.png`, bands: ['i', 'r', 'g'], colour: { preset: 'auto' }, error: null, batchId: batch.id })), 'converter');
      }
      const d = { repos, policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => new Date() }, log: createLogger('silent') };
      const runs = await Promise.all([applyPolicy(d, c.id), applyPolicy(d, c.id)]);
      const sum = (k: 'pending_review' | 'rejected' | 'held' | 'auto_approved' | 'errors') => runs[0][k] + runs[1][k];
      // The shipped policy admits 100 images before a panel approves the collection: the rest are refused.
      expect({ pending_review: sum('pending_review'), rejected: sum('rejected'), held: sum('held'), auto_approved: sum('auto_approved'), errors: sum('errors') }).toEqual({ pending_review: 100, rejected: 80, held: 0, auto_approved: 0, errors: 0 });
      const audit = await sql<{ n: number; images: number }>`select count(*)::int as n, count(distinct entity_id)::int as images from audit_log where collection_id = ${c.id} and action like 'policy_%'`.execute(t.db);
      expect(audit.rows[0]).toEqual({ n: 180, images: 180 });
    });
  });
}
