import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevApi, type DevApi } from '../support/dev-api.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { convertGroup, failArtifact, pollCollection, retrieveArtifact } from '../../src/domain/pipeline.js';
import { applyPolicy } from '../../src/domain/review.js';
import { runBridge } from '../support/cli.js';
import { failureLines } from '../../src/cli/status-command.js';

/**
 * Failures a person can read: a group with two bad files names both, each
 * with its own reason and its file in the Butler (never a temporary name);
 * the PI hears of each failure by event and of each poll batch once, when
 * all of it has been through conversion and the policy; `bridge status
 * --failed` lists the reasons.
 */
describe('failures a person can read', () => {
  let d: DevApi;
  beforeAll(async () => {
    d = await startDevApi();
  }, 60_000);
  afterAll(async () => {
    await d?.close();
  });

  it('names each bad file of a group, tells the PI once per batch, and lists it all in bridge status --failed', async () => {
    const run = 'u/alien/hostile';
    const root = join(d.dir, 'artifacts');
    await writeDemoArtifacts(root, { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [41, 42, 43, 44], stampsPerFile: 2, size: 32 });
    const fileOf = async (patch: number, band: string) => {
      const dir = join(root, run, 'zooniverse_cutout', '9813', String(patch), band);
      return join(dir, (await readdir(dir))[0]);
    };
    // Patch 42: r cut short, g not FITS at all, i fine.
    const r42 = await fileOf(42, 'r');
    await writeFile(r42, (await readFile(r42)).subarray(0, 3000));
    await writeFile(await fileOf(42, 'g'), 'this is not a FITS file, it is a note somebody saved with the wrong name\n'.repeat(50));
    // Patch 44: i cut short after its first stamp. The group converts in part: the stamp that is gone fails, named.
    const i44 = await fileOf(44, 'i');
    const whole = await readFile(i44);
    await writeFile(i44, whole.subarray(0, await firstStampEnd(whole)));
    const reg = await d.call('POST', '/api/v1/collections', 'alien', { repository: 'dp02', collection: run, sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const id = reg.body.id as string;
    const { newArtifactIds } = await pollCollection(d.s.pipeline, id);
    expect(newArtifactIds).toHaveLength(12);
    // Patch 43's i file disappears before it is retrieved: that dataset fails for good.
    const i43 = await fileOf(43, 'i');
    await rm(i43);
    const groups = new Set<string>();
    for (const a of newArtifactIds) {
      try {
        const g = (await retrieveArtifact(d.s.pipeline, a)).readyGroup?.groupKey;
        if (g) groups.add(g);
      } catch (e) {
        await failArtifact(d.s.pipeline, a, (e as Error).message, 'retriever');
      }
    }
    const events = async () => (await d.call('GET', `/api/v1/collections/${id}/events`, 'alien')).body.items as { kind: string; data: Record<string, any> }[];
    expect((await events()).map((e) => e.kind)).toEqual(['artifact_failed']);
    for (const g of groups) {
      await convertGroup(d.s.pipeline, id, g).catch(() => {});
      // Not yet settled: images of the good group wait for the policy.
      expect((await events()).filter((e) => e.kind === 'batch_quarantined')).toEqual([]);
    }
    await applyPolicy(d.s.review, id);
    await applyPolicy(d.s.review, id);

    const f = (await d.call('GET', `/api/v1/collections/${id}/failures`, 'alien')).body;
    const byBand = (patch: number, band: string) => f.artifacts.find((a: any) => a.dataId.patch === patch && a.band === band);
    const r = byBand(42, 'r');
    const g = byBand(42, 'g');
    const i = byBand(42, 'i');
    // Each bad file has its own reason, naming its own file as the Butler knows it.
    expect(r.file).toMatch(/zooniverse_cutout_r_9813_42/);
    expect(r.error).toContain(r.file);
    expect(g.error).toContain(g.file);
    expect(g.error).not.toEqual(r.error);
    // The good file says which of its group held it back: both of them.
    expect(i.error).toContain(`band r (${r.file})`);
    expect(i.error).toContain(`band g (${g.file})`);
    for (const a of f.artifacts) expect(a.error).not.toMatch(/[a-z]-[0-9a-f]{64}\.fits/);
    expect(byBand(43, 'i')).toMatchObject({ datasetType: 'zooniverse_cutout', dataId: expect.objectContaining({ tract: 9813, patch: 43 }), error: expect.stringMatching(/\S/) });
    expect(f.artifacts).toHaveLength(4);
    // The file cut short: its group converted in part, the lost stamp listed with the file it is missing from.
    expect(f.stamps).toHaveLength(1);
    expect(f.stamps[0]).toMatchObject({ stamp: 1, groupKey: expect.stringContaining('44') });
    expect(f.stamps[0].error).toMatch(/missing from .*zooniverse_cutout_i_9813_44.*\.fits/);
    expect(f.stamps[0].datasetIds).toHaveLength(3);
    const i44Row = await d.s.db.selectFrom('artifacts').select(['id', 'state']).where('collection_id', '=', id).where('path', 'like', '%_i_9813_44_%').executeTakeFirstOrThrow();
    expect(i44Row.state).toBe('converted');
    // What the converter noticed stays with the file's conversion in its history.
    const note = await d.s.db.selectFrom('transitions').select('reason').where('entity_id', '=', i44Row.id).where('to_state', '=', 'converted').executeTakeFirstOrThrow();
    expect(note.reason).toMatch(/zooniverse_cutout_i_9813_44.*stamp 2 of 2 missing/);

    const all = await events();
    const groupFailed = all.filter((e) => e.kind === 'group_failed');
    expect(groupFailed).toHaveLength(1);
    expect(groupFailed[0].data.datasets.map((x: any) => x.band).sort()).toEqual(['g', 'i', 'r']);
    expect(groupFailed[0].data.datasets.find((x: any) => x.band === 'r')).toMatchObject({ datasetId: r.datasetId, file: r.file, error: r.error });
    // One batch_quarantined for the one poll batch, with what it brought in.
    const quarantined = all.filter((e) => e.kind === 'batch_quarantined');
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0].data).toMatchObject({ seq: 1, datasets: 12, failed_datasets: 4, images: 3, failed_stamps: 1 });
    expect(quarantined[0].data.pending_review + quarantined[0].data.rejected + quarantined[0].data.auto_approved).toBe(3);

    // The same, for an operator at the command line (a second process may not open the API's data directory while it runs).
    await d.close(true);
    try {
      const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: join(d.dir, 'data'), LOG_LEVEL: 'warn' } as Record<string, string>;
      delete env.DATABASE_URL;
      delete env.REDIS_URL;
      const out = await runBridge(['status', '--failed', '--collection', run], env);
      expect(out.code, out.stderr).toBe(0);
      const listed = JSON.parse(out.stdout)[0];
      expect(listed.artifacts.map((a: any) => a.error).sort()).toEqual(f.artifacts.map((a: any) => a.error).sort());
      // On a terminal the same list is one line per item, with the command that retries it.
      const lines = failureLines(listed);
      expect(lines[0]).toBe(`${run}: 4 dataset(s), 1 stamp(s), 0 upload batch(es) stopped`);
      expect(lines).toContain(`  dataset ${r.datasetId} (zooniverse_cutout band=r patch=42 tract=9813) file ${r.file}: ${r.error} (0 attempt(s))`);
      expect(lines.at(-1)).toBe(`  retry the datasets: bridge retry --collection ${run} --artifacts`);
    } finally {
      await rm(d.dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Where the first stamp's extensions end in a demo Stamps file: the start of the second IMAGE header. */
async function firstStampEnd(bytes: Buffer): Promise<number> {
  let seen = 0;
  for (let at = 0; at < bytes.length; at += 2880) {
    const block = bytes.subarray(at, at + 2880).toString('latin1');
    if (block.startsWith('XTENSION') && /EXTNAME = 'IMAGE/.test(block.slice(0, 2880)) && ++seen === 2) return at;
  }
  throw new Error('no second IMAGE extension');
}
