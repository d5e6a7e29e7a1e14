import { Router } from 'express';
import { resolve, sep } from 'node:path';
import { z } from 'zod';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Collection, CollectionUpdate } from '../db/schema.js';
import { countByState, createCollection, getCollection, listCollections, setCollectionStatus } from '../db/repositories/collections.js';
import { listArtifacts } from '../db/repositories/artifacts.js';
import { listImages } from '../db/repositories/images.js';
import { ForbiddenError, ValidationError } from '../domain/errors.js';
import { parseExtraMetadata } from '../domain/subject-metadata.js';
import { parseExtraMetadataTable } from '../domain/extra-metadata-table.js';
import { appendAudit } from '../db/repositories/audit.js';
import express from 'express';
import { requireRole, type Identity } from './auth.js';
import { canSee } from './review-routes.js';
import { defaultChannelOrder, parseRgbMapping, BAND_ORDER } from '../imaging/colour/bands.js';
import { COLOUR_PRESETS } from '../imaging/colour/presets.js';
import type { JobQueue } from '../domain/ports/job-queue.js';

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
      .object({ preset: z.enum(COLOUR_PRESETS as [string, ...string[]]).default('auto'), minimum: z.number().optional(), stretch: z.number().positive().optional(), Q: z.number().nonnegative().optional() })
      .strict()
      .default({ preset: 'auto' }),
    zooniverseProjectId: z.string().regex(/^\d{1,12}$/).optional(),
    subjectSetNaming: z.string().max(200).optional(),
    pollIntervalSeconds: z.number().int().min(60).max(7 * 86400).optional(),
    /** Data release of the datasets (a policy fact); default: the repository label. */
    dataRelease: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, 'must be a data release label such as dp1, dr1 or prompt').optional(),
  })
  .strict();

/**
 * How a collection's published images become Zooniverse subjects. Applies
 * to upload batches planned after the change; a batch already manifested
 * keeps the manifest it has (and re-uploading it stays exactly-once).
 */
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
const TABLE_LIMIT = '8mb';

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
    panelApproval: c.panel_approval,
    lastPolledAt: c.last_polled_at,
    lastPollError: c.last_poll_error,
    createdAt: c.created_at,
    ...(counts ? { counts } : {}),
  };
}

/** The columns on every subject, and how many objects have their own row (the table itself can be large). */
function extraMetadataSummary(raw: unknown) {
  const m = parseExtraMetadata(raw);
  const keys = new Set<string>();
  for (const row of Object.values(m.objects)) for (const k of Object.keys(row)) keys.add(k);
  return { columns: m.columns, objects: Object.keys(m.objects).length, objectColumns: [...keys] };
}

/** Group keys are canonical JSON, with `#zip:<dataset>` after it for ZIP renderings. */
function parseGroupKey(k: string): unknown {
  const hash = k.indexOf('#zip:');
  const dataId = JSON.parse(hash >= 0 ? k.slice(0, hash) : k) as Record<string, unknown>;
  return hash >= 0 ? { ...dataId, archive: k.slice(hash + 5) } : dataId;
}

async function imageCountsByCollection(db: Db, ids: string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  if (!ids.length) return out;
  const rows = await db.selectFrom('images').select(['collection_id', 'state', sql<number>`count(*)::int`.as('n')]).where('collection_id', 'in', ids).groupBy(['collection_id', 'state']).execute();
  for (const r of rows) out.set(r.collection_id, { ...(out.get(r.collection_id) ?? {}), [r.state]: r.n });
  return out;
}

export interface CollectionRoutesDeps {
  db: Db;
  queues: JobQueue;
  defaultPollIntervalSeconds: number;
  /** Directory under which 'prefix' sources must live (retrieve-artifacts output). */
  artifactRoot: string;
}

export function collectionRoutes(d: CollectionRoutesDeps): Router {
  const r = Router();

  r.post('/collections', requireRole('pi'), async (req, res) => {
    const body = registrationSchema.parse(req.body);
    const who = req.identity!;
    const pathOwner = body.collection.split('/')[1];
    // Ownership is ours to enforce: the Butler server has no per-collection check.
    let owner = pathOwner;
    if (pathOwner !== who.username) {
      const delegated = await d.db.selectFrom('delegations').select('prefix').where('username', '=', who.username).execute();
      // A delegated prefix makes the registering PI the owner (and responsible) for it.
      if (delegated.some((x) => body.collection.startsWith(x.prefix))) owner = who.username;
      else if (!who.roles.includes('admin')) throw new ForbiddenError(`you may only register collections under u/${who.username}/, or under a prefix an admin delegated to you`, { field: 'collection' });
    }
    let sourceRoot: string | null = null;
    if (body.sourceKind === 'prefix') {
      const root = resolve(d.artifactRoot);
      sourceRoot = resolve(root, body.sourceRoot ?? '.');
      if (sourceRoot !== root && !sourceRoot.startsWith(root + sep)) throw new ValidationError('sourceRoot must be inside the configured artifact root', { field: 'sourceRoot' });
    }
    let rgb: string[];
    try {
      rgb = body.rgb ? parseRgbMapping(body.rgb, body.bands) : defaultChannelOrder(body.bands);
    } catch (e) {
      throw new ValidationError((e as Error).message, { field: body.rgb ? 'rgb' : 'bands' });
    }
    const c = await createCollection(
      d.db,
      {
        owner,
        repository: body.repository,
        name: body.collection,
        sourceKind: body.sourceKind,
        sourceRoot,
        datasetType: body.datasetType,
        rgb,
        colour: body.colour,
        zooniverseProjectId: body.zooniverseProjectId ?? null,
        subjectSetNaming: body.subjectSetNaming ?? null,
        pollIntervalSeconds: body.pollIntervalSeconds ?? d.defaultPollIntervalSeconds,
        dataRelease: body.dataRelease?.toLowerCase() ?? null,
        // Only the owner's own claim counts: an admin registering for someone does not lend their rights.
        ownerDataRights: owner === who.username ? who.dataRights : [],
      },
      who.username,
    );
    await d.queues.schedulePoll(c.id, c.poll_interval_seconds);
    await d.queues.add('poll', { collectionId: c.id });
    res.status(201).location(`/api/v1/collections/${c.id}`).json(collectionView(c));
  });

  r.get('/collections', requireRole('pi'), async (req, res) => {
    const who = req.identity!;
    // Reviewers and admins see every collection unless they ask for their own.
    const all = req.query.mine !== 'true' && (who.roles.includes('reviewer') || who.roles.includes('admin'));
    const rows = await listCollections(d.db, all ? {} : { owner: who.username });
    const counts = await imageCountsByCollection(d.db, rows.map((c) => c.id));
    res.json({ items: rows.map((c) => collectionView(c, { images: counts.get(c.id) ?? {} })) });
  });

  const load = async (id: string, who: Identity) => {
    if (!z.string().uuid().safeParse(id).success) throw new ValidationError('id must be a UUID', { field: 'id' });
    const c = await getCollection(d.db, id);
    if (!canSee(who, c)) throw new ForbiddenError('not your collection');
    return c;
  };

  r.get('/collections/:id', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    res.json(collectionView(c, await countByState(d.db, c.id)));
  });

  const loadOwned = async (id: string, who: Identity) => {
    const c = await load(id, who);
    if (c.owner !== who.username && !who.roles.includes('admin')) throw new ForbiddenError('only the owner or an admin can change a collection');
    return c;
  };

  /** Records a settings change in the audit log: who changed what, from what. */
  const saveSettings = async (c: Collection, who: Identity, set: CollectionUpdate, detail: Record<string, unknown>) => {
    await d.db.transaction().execute(async (tx) => {
      await tx.updateTable('collections').set({ ...set, updated_at: new Date() }).where('id', '=', c.id).execute();
      await appendAudit(tx, [{ actor: who.username, action: 'settings', entity: 'collection', entityId: c.id, collectionId: c.id, reason: null, detail }]);
    });
    return getCollection(d.db, c.id);
  };

  r.patch('/collections/:id', requireRole('pi'), async (req, res) => {
    const who = req.identity!;
    const c = await loadOwned(String(req.params.id), who);
    const body = uploadSettingsSchema.parse(req.body);
    if (!Object.keys(body).length) throw new ValidationError('nothing to change: give at least one of ' + Object.keys(uploadSettingsSchema.shape).join(', '));
    const set: CollectionUpdate = {};
    if (body.zooniverseProjectId !== undefined) set.zooniverse_project_id = body.zooniverseProjectId;
    if (body.uploadMode !== undefined) set.upload_mode = body.uploadMode;
    if (body.maxBatchSize !== undefined) set.max_batch_size = body.maxBatchSize;
    if (body.subjectSetPer !== undefined) set.subject_set_per = body.subjectSetPer;
    if (body.subjectSetNaming !== undefined) set.subject_set_naming = body.subjectSetNaming;
    if (body.subjectFrames !== undefined) set.subject_frames = body.subjectFrames;
    if (body.oneIncompleteSet !== undefined) set.one_incomplete_set = body.oneIncompleteSet;
    if (body.extraMetadata !== undefined) set.extra_metadata = JSON.stringify(parseExtraMetadata(body.extraMetadata));
    const changed = Object.keys(body).filter((k) => k !== 'extraMetadata');
    const saved = await saveSettings(c, who, set, { changed: Object.keys(body), ...Object.fromEntries(changed.map((k) => [k, (body as Record<string, unknown>)[k]])) });
    res.json(collectionView(saved));
  });

  /**
   * The PI's table of per-object columns (e.g. ML scores), as CSV: a header
   * row whose first column is `object` (a bridge image id, `<dataset id>:<stamp
   * index>`, or a stamp index) and whose other columns are metadata keys.
   * Replaces the previous table; the collection-wide columns stay.
   */
  r.put('/collections/:id/extra-metadata', requireRole('pi'), express.text({ type: ['text/csv', 'text/plain'], limit: TABLE_LIMIT }), async (req, res) => {
    const who = req.identity!;
    const c = await loadOwned(String(req.params.id), who);
    if (typeof req.body !== 'string') throw new ValidationError('send the table as text/csv', { field: 'content-type' });
    const objects = parseExtraMetadataTable(req.body);
    const current = parseExtraMetadata(c.extra_metadata);
    const next = parseExtraMetadata({ columns: current.columns, objects });
    const saved = await saveSettings(c, who, { extra_metadata: JSON.stringify(next) }, { changed: ['extraMetadata.objects'], objects: Object.keys(objects).length });
    res.json(collectionView(saved));
  });

  for (const [action, to] of [['pause', 'paused'], ['resume', 'active'], ['retire', 'retired']] as const) {
    r.post(`/collections/:id/${action}`, requireRole('pi'), async (req, res) => {
      const who = req.identity!;
      const c = await load(String(req.params.id), who);
      if (c.owner !== who.username && !who.roles.includes('admin')) throw new ForbiddenError('only the owner or an admin can change a collection');
      if (c.status !== to) {
        const { transition } = await import('../db/repositories/transitions.js');
        await transition(d.db, 'collection', c.id, c.status, to, who.username);
      }
      if (to === 'active') await d.queues.schedulePoll(c.id, c.poll_interval_seconds);
      else await d.queues.unschedulePoll(c.id);
      res.json(collectionView(await getCollection(d.db, c.id)));
    });
  }

  r.get('/collections/:id/artifacts', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    const q = pageQuery.extend({ state: z.enum(['discovered', 'retrieved', 'converted', 'failed']).optional() }).parse(req.query);
    const page = await listArtifacts(d.db, c.id, q);
    res.json({
      items: page.items.map((a) => ({ id: a.id, datasetId: a.dataset_id, dataId: a.data_id, band: a.band, state: a.state, error: a.error, path: a.path, size: a.size, sha256: a.sha256, updatedAt: a.updated_at })),
      next: page.next,
    });
  });

  r.get('/collections/:id/images', requireRole('pi'), async (req, res) => {
    const c = await load(String(req.params.id), req.identity!);
    const q = pageQuery.extend({ state: z.enum(['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed']).optional() }).parse(req.query);
    const page = await listImages(d.db, c.id, q);
    res.json({
      items: page.items.map((i) => ({ id: i.id, groupKey: parseGroupKey(i.group_key), stampIndex: i.stamp_index, state: i.state, ra: i.ra, dec: i.dec, wcs: i.wcs_quality, width: i.width, height: i.height, bytes: i.bytes, bands: i.bands, error: i.error })),
      next: page.next,
    });
  });

  return r;
}
