import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import type { ReleaseCatalogue } from '../domain/releases.js';
import { listStoppedWork, releaseMapping } from '../domain/stopped-work.js';
import { requireRole } from './auth.js';

const failuresQuery = z.object({ after: z.string().max(400).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });

/**
 * What the admin page reads across the deployment: the release mapping in
 * force (GET /releases) and the dead-letter list of stopped work in every
 * collection (GET /failures). Retries go through the per-collection retry routes.
 */
export function adminOverviewRoutes(d: { repos: Repositories; releases: ReleaseCatalogue; releasesFile?: string }): Router {
  const r = Router();

  r.get('/releases', requireRole('admin'), (req, res) => {
    const m = releaseMapping(req.identity!, d.releases, d.releasesFile);
    res.json({ source: m.source, file: m.file, items: m.entries.map((e) => ({ label: e.label, release: e.release, prompt: e.prompt, proprietary: e.proprietary, embargoHours: e.embargoHours })) });
  });

  r.get('/failures', requireRole('admin'), async (req, res) => {
    const q = failuresQuery.parse(req.query);
    const page = await listStoppedWork(d.repos, req.identity!, q);
    res.json({
      items: page.items.map((i) => ({
        kind: i.kind,
        id: i.id,
        collectionId: i.collection_id,
        collection: i.collection_name,
        owner: i.owner,
        state: i.state,
        error: i.error,
        at: i.at,
        attempts: i.attempts,
        ...(i.kind === 'artifact' ? { datasetId: i.dataset_id, datasetType: i.dataset_type, dataId: i.data_id } : {}),
        ...(i.kind === 'stamp' ? { groupKey: i.group_key, stamp: i.stamp_index, datasetIds: i.dataset_ids } : {}),
        ...(i.kind === 'batch' ? { seq: i.seq, mode: i.mode } : {}),
      })),
      counts: page.counts,
      next: page.next,
    });
  });

  return r;
}
