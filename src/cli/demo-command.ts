import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import type { Db } from '../db/database.js';
import { progressBar } from './progress.js';
import { UsageError } from './exit-codes.js';

/**
 * `bridge demo`: the whole pipeline on a fresh clone with no network. Makes
 * Rubin-like Stamps files in a retrieve-artifacts tree, registers them as a
 * PI's collection through the API, and runs poll -> retrieve -> convert into
 * quarantine and the data-rights policy on the embedded defaults (PGlite,
 * filesystem store, a private redis-server). 120 stamps of a public release
 * without panel approval: the policy leaves 100 for review (coordinates to be
 * stripped) and refuses 20 over the pre-approval cap.
 *
 * With --auto-approve and no real Zooniverse credentials, the demo Panoptes
 * server (src/demo/panoptes-double) stands in for Zooniverse in-process
 * (--no-simulate-zooniverse turns that off): the approved images are uploaded
 * to it, simulated volunteers classify them, and the bridge pulls, reduces
 * and applies demo results rules (demo-results.ts).
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('Run the pipeline end to end on generated Rubin-like cutouts')
    .option('--dir <dir>', 'where the demo keeps its data (wiped first); default: DATA_DIR/demo, or ./data/demo without DATA_DIR')
    .option('--keep-running', 'leave the API and workers running afterwards (Ctrl-C to stop)')
    .option('--auto-approve', 'approve, as a demo EPO reviewer, every image the policy left for review')
    .option('--zooniverse-project <id>', 'with --auto-approve and ZOONIVERSE_CLIENT_ID/SECRET set: upload the approved images to this Zooniverse project')
    .addOption(new Option('--upload-mode <mode>', 'how subjects reach Zooniverse: api (subjects created one by one) or import (Zooniverse fetches the manifest, so the public store must be reachable from the internet)').choices(['api', 'import']).default('api'))
    .option('--no-simulate-zooniverse', 'with --auto-approve and no Zooniverse credentials: stop after the export instead of uploading to the in-process demo Panoptes server and showing its results')
    .option('--timeout <seconds>', 'give up after this long', (v) => Number(v), 300)
    .action(async (o: { dir?: string; keepRunning?: boolean; autoApprove?: boolean; zooniverseProject?: string; uploadMode: 'api' | 'import'; simulateZooniverse: boolean; timeout: number }) => {
      if (o.zooniverseProject !== undefined && !/^\d{1,12}$/.test(o.zooniverseProject)) throw new UsageError('--zooniverse-project takes a Zooniverse project id (digits)');
      // Everything the demo runs is imported here, not with the definition, so `bridge --help` stays cheap.
      const { loadConfig } = await import('../config/config.js');
      const { writeDemoArtifacts, DEMO_LAYOUT } = await import('../demo/demo-data.js');
      const { buildServices } = await import('../app/service.js');
      const { startApiRole } = await import('../app/api-server.js');
      const { startWorkerRole } = await import('../../workers/main.js');
      const { rm, mkdir } = await import('node:fs/promises');
      // Read from the environment, not the config: the demo always runs in dev mode, whatever else is set.
      const dir = resolve(o.dir ?? join(process.env.DATA_DIR || './data', 'demo'));
      await rm(dir, { recursive: true, force: true });
      const artifacts = join(dir, 'artifacts');
      await mkdir(artifacts, { recursive: true });
      const say = (m: string) => process.stdout.write(m + '\n');
      const files = await writeDemoArtifacts(artifacts);
      const expected = DEMO_LAYOUT.tracts.length * DEMO_LAYOUT.patches.length * DEMO_LAYOUT.stampsPerFile;
      say(`wrote ${files} Stamps files (${DEMO_LAYOUT.tracts.length} tracts x ${DEMO_LAYOUT.patches.length} patches x 3 bands x ${DEMO_LAYOUT.stampsPerFile} stamps, GZIP_2) under ${artifacts}`);

      // Real credentials (with a project) upload for real; without any, --auto-approve uploads to the demo Panoptes server.
      const { startDemoZooniverse, runDemoResults } = await import('./demo-results.js');
      const zoo = o.autoApprove && o.simulateZooniverse && !process.env.ZOONIVERSE_CLIENT_ID ? await startDemoZooniverse() : undefined;
      const config = loadConfig({ ...process.env, ...(zoo?.env ?? {}), DATA_DIR: dir, ARTIFACT_ROOT: artifacts, PORT: process.env.PORT ?? '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', BRIDGE_MODE: 'dev', HOST: '127.0.0.1' });
      const uploadTo = zoo ? zoo.projectId : config.ZOONIVERSE_CLIENT_ID && o.zooniverseProject && o.autoApprove ? o.zooniverseProject : undefined;
      if (zoo) say(`no Zooniverse credentials: the demo Panoptes server at ${zoo.server.url} stands in for Zooniverse (project ${zoo.projectId}); --no-simulate-zooniverse to skip`);
      const s = await buildServices(config);
      const api = await startApiRole(s, config.PORT);
      const worker = await startWorkerRole(s);
      try {
        const res = await fetch(`${api.url}/api/v1/collections`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-bridge-dev-user': DEMO_LAYOUT.owner },
          body: JSON.stringify({ repository: 'dp02', collection: DEMO_LAYOUT.run, sourceKind: 'prefix', sourceRoot: '.', datasetType: DEMO_LAYOUT.datasetType, bands: ['g', 'r', 'i'], pollIntervalSeconds: 60 }),
        });
        const body = (await res.json()) as { id: string; detail?: string };
        if (res.status !== 201) throw new Error(`registering the demo collection failed: ${res.status} ${body.detail ?? ''}`);
        say(`registered collection ${DEMO_LAYOUT.run} (${body.id}); polling, retrieving and converting...`);
        if (uploadTo) {
          // An EPO admin approves the project for the demo PI (uploads run as EPO's Zooniverse account).
          const bound = await fetch(`${api.url}/api/v1/project-bindings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-bridge-dev-user': 'demo-admin', 'x-bridge-dev-roles': 'admin' },
            body: JSON.stringify({ username: DEMO_LAYOUT.owner, projectId: uploadTo, reason: 'bridge demo' }),
          });
          if (bound.status !== 201) throw new Error(`approving Zooniverse project ${uploadTo} for the demo PI failed: ${bound.status} ${((await bound.json()) as { detail?: string }).detail ?? ''}`);
          // Before any approval: approving starts the release, which uploads where the collection says.
          const set = await fetch(`${api.url}/api/v1/collections/${body.id}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json', 'x-bridge-dev-user': DEMO_LAYOUT.owner },
            body: JSON.stringify({ zooniverseProjectId: uploadTo, uploadMode: o.uploadMode }),
          });
          if (set.status !== 200) throw new Error(`connecting the demo collection to Zooniverse project ${uploadTo} failed: ${set.status} ${((await set.json()) as { detail?: string }).detail ?? ''}`);
        }
        const bar = progressBar('quarantine + policy');
        const deadline = Date.now() + o.timeout * 1000;
        let counts: { artifacts: Record<string, number>; images: Record<string, number> } = { artifacts: {}, images: {} };
        for (;;) {
          const r = await fetch(`${api.url}/api/v1/collections/${body.id}`, { headers: { 'x-bridge-dev-user': DEMO_LAYOUT.owner } });
          counts = ((await r.json()) as { counts: typeof counts }).counts;
          // Done when every stamp is either failed or has its policy verdict.
          const done = await s.repos.images.countJudgedOrFailed(body.id);
          bar(Math.min(done, expected), expected);
          const failedArtifacts = counts.artifacts.failed ?? 0;
          if (done >= expected || (failedArtifacts > 0 && (counts.artifacts.retrieved ?? 0) + (counts.artifacts.discovered ?? 0) === 0)) break;
          if (Date.now() > deadline) throw new Error(`demo did not finish within ${o.timeout} s`);
          await new Promise((r2) => setTimeout(r2, 250));
        }
        say('');
        // Read again: the figures above were taken before the last verdicts of the loop's final pass.
        counts = ((await (await fetch(`${api.url}/api/v1/collections/${body.id}`, { headers: { 'x-bridge-dev-user': DEMO_LAYOUT.owner } })).json()) as { counts: typeof counts }).counts;
        const verdicts = await s.repos.images.countByVerdict(body.id);
        say(`artifacts: ${JSON.stringify(counts.artifacts)}`);
        say(`images:    ${JSON.stringify(counts.images)}`);
        say(`policy ${s.policy.name}@${s.policy.version}: ${verdicts.map((v) => `${v.verdict ?? 'none'} ${v.n}`).join(', ')}`);
        const sample = await s.repos.images.firstWithVerdict(body.id, 'rejected');
        if (sample) say(`why one was rejected:  DATA_DIR=${dir} npx bridge policy explain ${sample}`);

        if (o.autoApprove) {
          // A demo reviewer (not the owner: separation of duties) approves what the policy left for review,
          // as an admin publishing at once: a person at the page would get the publishing delay (and Undo).
          const reviewer = { 'x-bridge-dev-user': 'epo-demo-reviewer', 'x-bridge-dev-roles': 'reviewer,admin' };
          let approved = 0;
          for (;;) {
            const list = await fetch(`${api.url}/api/v1/review/images?collection=${body.id}&state=quarantined&verdict=pending_review&limit=500`, { headers: reviewer });
            const ids = ((await list.json()) as { items: { id: string }[] }).items.map((i) => i.id);
            if (!ids.length) break;
            const res = await fetch(`${api.url}/api/v1/review/decisions`, { method: 'POST', headers: { ...reviewer, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds: ids, action: 'approve', publishNow: true, reason: 'bridge demo --auto-approve' }) });
            const results = ((await res.json()) as { results: { ok: boolean }[] }).results;
            approved += results.filter((x) => x.ok).length;
            if (!results.some((x) => x.ok)) break;
          }
          say(`approved ${approved} images as epo-demo-reviewer (--auto-approve)`);
          // The offline path for PIs without Zooniverse API credentials.
          const { exportCollection } = await import('../domain/export.js');
          const ex = await exportCollection({ repos: s.repos, store: s.store }, body.id, join(dir, 'export.zip'));
          say(`export for the Zooniverse Project Builder: ${ex.path} (${ex.images} images${ex.stripped ? `, ${ex.stripped} with coordinates stripped` : ''})`);
          if (uploadTo) await followUpload(s.db, body.id, uploadTo, config.ZOONIVERSE_BASE_URL, deadline, say);
          if (zoo) {
            say('');
            await runDemoResults({ apiUrl: api.url, owner: DEMO_LAYOUT.owner, repos: s.repos, queues: s.queues, zoo, collection: await s.repos.collections.get(body.id), csvPath: join(dir, 'results.csv'), dataDir: dir, deadline, say });
          } else if (uploadTo) {
            // Uploaded to the real project above; its classifications come back with the scheduled pull.
            say(`results, once volunteers have classified and the bridge has pulled (--keep-running, or bridge serve on this DATA_DIR): BRIDGE_MODE=dev DATA_DIR=${dir} npx bridge results --collection ${body.id} --format csv --out results.csv`);
          } else if (config.ZOONIVERSE_CLIENT_ID) say('Zooniverse credentials are set: add --zooniverse-project ID to upload the approved images as well');
          else say('no Zooniverse upload: set ZOONIVERSE_CLIENT_ID and ZOONIVERSE_CLIENT_SECRET (and --zooniverse-project ID) to upload too');
        } else if (o.zooniverseProject) {
          say('nothing was approved, so nothing was uploaded: add --auto-approve to upload as well');
        }
        say('');
        say(`reviewer page: ${api.url}/review  (dev sign-in: use a username other than ${DEMO_LAYOUT.owner}, tick "EPO reviewer")`);
        say(`API: ${api.url}/api/v1/collections/${body.id}  (dev mode: header X-Bridge-Dev-User: ${DEMO_LAYOUT.owner})`);
        say(`queues: ${api.url}/admin/queues (admin)   metrics: ${api.url}/metrics`);
        if (!o.keepRunning) say('add --keep-running to keep the page up (Ctrl-C to stop)');
        if (o.keepRunning) {
          say('running; Ctrl-C to stop');
          await new Promise<void>((r2) => {
            process.once('SIGINT', () => r2());
            process.once('SIGTERM', () => r2());
          });
        }
      } finally {
        await worker.close();
        await api.close();
        await s.close();
        await zoo?.server.close();
      }
    });
}

/** Waits for the release the approvals started to settle, showing the subjects linked so far. */
async function followUpload(db: Db, collectionId: string, projectId: string, baseUrl: string, deadline: number, say: (m: string) => void): Promise<void> {
  const { createRepositories } = await import('../db/repositories/index.js');
  const { releaseProgress } = await import('../domain/release.js');
  const bar = progressBar('upload to Zooniverse');
  for (;;) {
    const p = await releaseProgress(createRepositories(db), collectionId, { uploading: true });
    bar(p.linked, Math.max(p.total, p.linked + p.approved));
    if (p.settled && p.batches.length) {
      const sets = [...new Set(p.batches.map((b) => b.subjectSetId).filter((x): x is string => !!x))];
      const trouble = p.batches.filter((b) => b.state !== 'uploaded');
      say(`uploaded ${p.linked} subjects to Zooniverse project ${projectId} at ${baseUrl} (subject set${sets.length === 1 ? '' : 's'} ${sets.join(', ') || 'none'})`);
      for (const b of trouble) say(`  batch ${b.seq}: ${b.state}${b.error ? ` (${b.error})` : ''}`);
      return;
    }
    if (Date.now() > deadline) {
      say(`the upload did not finish in time: ${p.linked}/${p.total} subjects linked; see bridge status --collection ${collectionId} --watch`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
