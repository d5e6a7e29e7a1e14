import express, { Router } from 'express';
import { z } from 'zod';
import type { Collection } from '../domain/model.js';
import type { Repositories } from '../domain/ports/repositories.js';
import { ValidationError } from '../domain/errors.js';
import { changeableCollection, changeStatus, listCollections, registerCollection, visibleCollection } from '../domain/collections.js';
import { changeUploadSettings, replaceExtraMetadataObjects } from '../domain/collection-settings.js';
import { extraMetadataSummary } from '../domain/subject-metadata.js';
import { TABLE_LIMITS } from '../domain/extra-metadata-table.js';
import { requireRole, type Identity } from './auth.js';
import { BAND_ORDER } from '../imaging/colour/bands.js';
import { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET } from '../imaging/colour/presets.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import type { ReleaseCatalogue } from '../domain/releases.js';

const band = z.enum(BAND_ORDER);
export const registrationSchema = z
  .object({
    repository: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a Butler repository label'),
    collection: z.string().regex(/^u\/[a-z0-9._-]+\/[A-Za-z0-9._/-]{1,200}$/, 'must be a user run collection u/<username>/...'),
    sourceKind: z.enum(['butler', 'prefix']).default('butler'),
    sourceRoot: z.string().min(1).max(500).optional(),
    datasetType: z.string().regex(/^[A-Za-z0-9_.]{1,100}$/).default('zooniverse_cutout'),
    bands: z.array(band).min(1).max(6).default(['g', 'r', 'i']),
    rgb: z.string().optional(),
    colour: z
      .object({ preset: z.enum(COLOUR_PRESETS as [string, ...string[]]).default(DEFAULT_COLOUR_PRESET), minimum: z.number().optional(), stretch: z.number().positive().optional(), Q: z.number().nonnegative().optional() })
      .strict()
      .default({ preset: DEFAULT_COLOUR_PRESET }),
    zooniverseProjectId: z.string().regex(/^\d{1,12}$/).optional(),
    subjectSetNaming: z.string().max(200).optional(),
    pollIntervalSeconds: z.number().int().min(60).max(7 * 86400).optional(),
  })
  .strict();

/** The upload settings a PI may change (see UploadSettingsChange). */
export const uploadSettingsSchema = z
  .object({
    zooniverseProjectId: z.string().regex(/^\d{1,12}$/, 'must be a Zooniverse project id (digits)').nullable(),
    uploadMode: z.enum(['import', 'api']),
    maxBatchSize: z.number().int().min(1).max(10_000, 'Zooniverse imports take at most 10,000 rows'),
    subjectSetPer: z.enum(['batch', 'collection']),
    subjectSetNaming: z.string().trim().min(1).max(200).nullable(),
    subjectFrames: z.boolean(),
    oneIncompleteSet: z.boolean(),
    extraMetadata: z.unknown(),
  })
  .partial()
  .strict();

/** The PI's extra-metadata table (CSV) may be large; everything else stays under the API's 64 kB cap. */
const TABLE_LIMIT = TABLE_LIMITS.bytes;

/** Collections come a page at a time (100 by default, 500 at most); `next` continues. */
const collectionsQuery = z.object({ mine: z.enum(['true', 'false']).optional(), after: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });

const pageQuery = z.object({ after: z.string().uuid().optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });

export function collectionView(c: Collection, counts?: unknown) {
  return {
    id: c.id,
    owner: c.owner,
    repository: c.repository,
    collection: c.name,
    sourceKind: c.source_kind,
    datasetType: c.dataset_type,
    rgb: c.rgb,
    colour: c.colour,
    zooniverseProjectId: c.zooniverse_project_id,
    subjectSetNaming: c.subject_set_naming,
    uploadMode: c.upload_mode,
    maxBatchSize: c.max_batch_size,
    subjectSetPer: c.subject_set_per,
    subjectFrames: c.subject_frames,
    oneIncompleteSet: c.one_incomplete_set,
    extraMetadata: extraMetadataSummary(c.extra_metadata),
    pollIntervalSeconds: c.poll_interval_seconds,
    status: c.status,
    dataRelease: c.data_release,
    releaseSource: c.release_source,
    panelApproval: c.panel_approval,
    /** An admin's publishing delay for this collection (seconds); null = the deployment's PUBLISH_DELAY_SECONDS. */
    publishDelaySeconds: c.publish_delay_seconds,
    lastPolledAt: c.last_polled_at,
    lastPollError: c.last_poll_error,
    createdAt: c.created_at,
    ...(counts ? { counts } : {}),
  };
}

/** Group keys are canonical JSON, with `#zip:<dataset>` after it for ZIP renderings. */
function parseGroupKey(k: string): unknown {
  const hash = k.indexOf('#zip:');
  const dataId = JSON.parse(hash >= 0 ? k.slice(0, hash) : k) as Record<string, unknown>;
  return hash >= 0 ? { ...dataId, archive: k.slice(hash + 5) } : dataId;
}

export interface CollectionRoutesDeps {
  repos: Repositories;
  queues: JobQueue;
  defaultPollIntervalSeconds: number;
  /** Directory under which 'prefix' sources must live (retrieve-artifacts output). */
  artifactRoot: string;
  /** Repository label -> data release (RELEASES_FILE or the built-in default). */
  releases: ReleaseCatalogue;
}

const collectionId = (raw: string): string => {
  if (!z.string().uuid().safeParse(raw).success) throw new ValidationError('id must be a UUID', { field: 'id' });
  return raw;
};

/**
 * A registration body (also what a preview takes). The data release is a
 * policy fact the system derives from the repository (RELEASES_FILE); a PI's
 * claim is refused, by name.
 */
export function parseRegistration(body: unknown): z.infer<typeof registrationSchema> {
  if (body && typeof body === 'object' && 'dataRelease' in body) {
    throw new ValidationError("dataRelease cannot be set: the data release is derived from the repository by the bridge (the operator's release mapping); leave it out", { field: 'dataRelease' });
  }
  return registrationSchema.parse(body);
}

export function collectionRoutes(d: CollectionRoutesDeps): Router {
  const r = Router();

  r.post('/collections', requireRole('pi'), async (req, res) => {
    const body = parseRegistration(req.body);
    const c = await registerCollection({ repos: d.repos, polls: d.queues, artifactRoot: d.artifactRoot, defaultPollIntervalSeconds: d.defaultPollIntervalSeconds, releases: d.releases }, req.identity!, body);
    res.status(201).location(`/api/v1/collections/${c.id}`).json(collectionView(c));
  });

  r.get('/collections', requireRole('pi'), async (req, res) => {
    // Reviewers and admins see every collection unless they ask for their own.
    const q = collectionsQuery.parse(req.query);
    const page = await listCollections(d.repos, req.identity!, { mine: q.mine === 'true', after: q.after, limit: q.limit });
    res.json({ items: page.items.map((x) => collectionView(x.collection, { images: x.images })), next: page.next });
  });

  const load = (id: string, who: Identity) => visibleCollection(d.repos, who, collectionId(id));
  const loadOwned = (id: string, who: Identity) => changeableCollection(d.repos, who, collectionId(id));

  r.get('/collections/:id', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    res.json(collectionView(c, await d.repos.collections.countByState(c.id)));
  });

  r.patch('/collections/:id', requireRole('pi'), async (req, res) => {
    const who = req.identity!;
    const c = await loadOwned(String(req.params.id), who);
    const body = uploadSettingsSchema.parse(req.body);
    if (!Object.keys(body).length) throw new ValidationError('nothing to change: give at least one of ' + Object.keys(uploadSettingsSchema.shape).join(', '));
    res.json(collectionView(await changeUploadSettings(d.repos, who, c, body)));
  });

  /** The PI's per-object metadata table as CSV (see replaceExtraMetadataObjects). */
  r.put('/collections/:id/extra-metadata', requireRole('pi'), express.text({ type: ['text/csv', 'text/plain'], limit: TABLE_LIMIT }), async (req, res) => {
    const who = req.identity!;
    const c = await loadOwned(String(req.params.id), who);
    if (typeof req.body !== 'string') throw new ValidationError('send the table as text/csv', { field: 'content-type' });
    res.json(collectionView(await replaceExtraMetadataObjects(d.repos, who, c, req.body)));
  });

  for (const [action, to] of [['pause', 'paused'], ['resume', 'active'], ['retire', 'retired']] as const) {
    r.post(`/collections/:id/${action}`, requireRole('pi'), async (req, res) => {
      res.json(collectionView(await changeStatus({ repos: d.repos, polls: d.queues }, req.identity!, collectionId(String(req.params.id)), to)));
    });
  }

  r.get('/collections/:id/artifacts', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    const q = pageQuery.extend({ state: z.enum(['discovered', 'retrieved', 'converted', 'failed']).optional() }).parse(req.query);
    const page = await d.repos.artifacts.list(c.id, q);
    res.json({
      items: page.items.map((a) => ({ id: a.id, datasetId: a.dataset_id, dataId: a.data_id, band: a.band, state: a.state, error: a.error, path: a.path, size: a.size, sha256: a.sha256, updatedAt: a.updated_at })),
      next: page.next,
    });
  });

  r.get('/collections/:id/images', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    const q = pageQuery.extend({ state: z.enum(['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed']).optional() }).parse(req.query);
    const page = await d.repos.images.list(c.id, q);
    res.json({
      items: page.items.map((i) => ({ id: i.id, groupKey: parseGroupKey(i.group_key), stampIndex: i.stamp_index, state: i.state, ra: i.ra, dec: i.dec, wcs: i.wcs_quality, width: i.width, height: i.height, bytes: i.bytes, bands: i.bands, error: i.error })),
      next: page.next,
    });
  });

  return r;
}
