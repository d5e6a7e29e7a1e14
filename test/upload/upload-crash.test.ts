import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { DB_KINDS } from '../support/databases.js';
import { PanoptesServerDouble } from '../support/panoptes-server.js';
import { faultMix, scratchDatabase, seedUploadBatch, startPublicStore } from '../support/upload-fixtures.js';
import { rng } from '../../src/imaging/synthetic.js';

const N = 300;
const KILLS = 10;

for (const kind of DB_KINDS) {
  describe(`upload crash safety (${kind})`, () => {
    it(`survives kill -9 at ${KILLS} random points: ${N} subjects, each exactly once, all linked`, { timeout: 300_000 }, async () => {
      const scratch = await scratchDatabase(kind);
      const pub = await startPublicStore();
      const server = await PanoptesServerDouble.start();
      try {
        server.faults.push(...faultMix(0.05, 23));
        let db = await scratch.open();
        const b = await seedUploadBatch(db, pub.store, { n: N });
        await db.destroy();

        // Kill points: request counts on the double's log, spread over the whole upload.
        const draw = rng(kind === 'pglite' ? 20261124 : 20261125);
        const points = new Set<number>();
        while (points.size < KILLS) points.add(4 + Math.floor(draw() * (N + 10)));
        const schedule = [...points].sort((x, y) => x - y);

        let child: ChildProcess | undefined;
        let killAt: number | undefined;
        const push = server.requests.push.bind(server.requests);
        server.requests.push = (...items) => {
          const n = push(...items);
          if (killAt !== undefined && n >= killAt && child && child.exitCode === null && child.signalCode === null) {
            killAt = undefined;
            child.kill('SIGKILL');
          }
          return n;
        };
        const run = (at: number | undefined) =>
          new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
            killAt = at;
            const c = spawn(process.execPath, ['--import', 'tsx', 'test/support/upload-child.ts'], {
              env: { ...process.env, UPLOAD_DATABASE: scratch.target, PANOPTES_URL: server.url, STORE_ROOT: pub.root, STORE_URL: pub.url, UPLOAD_BATCH_ID: b.batchId },
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            child = c;
            let out = '';
            let err = '';
            c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
            c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
            c.on('exit', (code, signal) => resolve({ code, signal, out, err }));
          });

        const runs: { killedAt?: number; requests: number; code: number | null; signal: string | null; ms: number }[] = [];
        let last: Awaited<ReturnType<typeof run>> | undefined;
        for (const at of [...schedule, undefined]) {
          const t0 = performance.now();
          last = await run(at);
          runs.push({ killedAt: at, requests: server.requests.length, code: last.code, signal: last.signal, ms: Math.round(performance.now() - t0) });
          if (at !== undefined && last.signal !== 'SIGKILL') break;
        }
        expect(runs.filter((r) => r.signal === 'SIGKILL'), JSON.stringify(runs)).toHaveLength(KILLS);
        expect(last!.code, last!.err).toBe(0);
        const report = JSON.parse(last!.out.trim().split('\n').at(-1)!) as { state: string; subjectSetId: string; linked: number };
        expect(report).toMatchObject({ state: 'uploaded', linked: N });

        const ours = new Set(b.externalIds);
        const live = server.allSubjects({ includeDeleted: false }).filter((s) => ours.has(s.externalId ?? ''));
        expect(live).toHaveLength(N);
        expect(server.duplicateExternalIds()).toEqual([]);
        expect(new Set(server.setMembers(report.subjectSetId))).toEqual(new Set(live.map((s) => s.id)));
        expect(server.requestsTo('createSubjectSet')).toHaveLength(1);

        db = await scratch.open();
        try {
          const rows = await db.selectFrom('upload_items').select(['state', 'subject_id', 'external_id']).where('upload_batch_id', '=', b.batchId).execute();
          const byExternal = new Map(live.map((s) => [s.externalId!, s.id]));
          for (const r of rows) {
            expect(r.state).toBe('linked');
            expect(r.subject_id).toBe(byExternal.get(r.external_id));
          }
          const events = await db.selectFrom('events').select('kind').where('collection_id', '=', b.collectionId).execute();
          expect(events.map((e) => e.kind)).toEqual(['batch_uploaded']);
        } finally {
          await db.destroy();
        }
        const creates = server.requestsTo('createSubject').length;
        console.log(`[crash ${kind}] ${runs.length} runs, killed at requests ${schedule.join(', ')}; create requests ${creates} for ${N} subjects (${(creates / N).toFixed(3)} per subject); ${server.requests.length} requests in all; run times ${runs.map((r) => r.ms).join(', ')} ms`);
      } finally {
        await server.close();
        await pub.close();
        await scratch.cleanup();
      }
    });
  });
}
