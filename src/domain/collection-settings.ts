import type { Collection, PanelApproval } from './model.js';
import type { CollectionChanges } from './ports/collections-repository.js';
import { assertProjectApproved } from './project-bindings.js';
import type { Repositories } from './ports/repositories.js';
import { isAdmin, type Caller } from './caller.js';
import { assertMayChange } from './collections.js';
import { ForbiddenError } from './errors.js';
import { parseExtraMetadata } from './subject-metadata.js';
import { readExtraMetadataTable } from './extra-metadata-table.js';
import type { Clock } from './ports/clock.js';
import type { JobQueue } from './ports/job-queue.js';
import { sendBackChangedMetadata } from './metadata-recheck.js';
import { describeRelease, queueReevaluation, reopenVerdicts } from './reevaluation.js';

/**
 * How a collection's published images become Zooniverse subjects. Applies
 * to upload batches planned after the change; a batch already manifested
 * keeps the manifest it has (and re-uploading it stays exactly-once).
 */
export interface UploadSettingsChange {
  zooniverseProjectId?: string | null;
  uploadMode?: 'import' | 'api';
  maxBatchSize?: number;
  subjectSetPer?: 'batch' | 'collection';
  subjectSetNaming?: string | null;
  subjectFrames?: boolean;
  oneIncompleteSet?: boolean;
  /** `{ columns, objects }`, checked here: the PI's per-subject metadata. */
  extraMetadata?: unknown;
}

/** Changes the owner's upload settings; the audit log records who changed which, and to what. */
export async function changeUploadSettings(repos: Repositories, who: Caller, c: Collection, change: UploadSettingsChange): Promise<Collection> {
  assertMayChange(who, c);
  const set: CollectionChanges = {};
  if (change.zooniverseProjectId !== undefined) {
    // Uploads run as EPO's Zooniverse account: only a project an admin approved for the owner.
    if (change.zooniverseProjectId !== null && change.zooniverseProjectId !== c.zooniverse_project_id) await assertProjectApproved(repos, c.owner, change.zooniverseProjectId);
    set.zooniverse_project_id = change.zooniverseProjectId;
  }
  if (change.uploadMode !== undefined) set.upload_mode = change.uploadMode;
  if (change.maxBatchSize !== undefined) set.max_batch_size = change.maxBatchSize;
  if (change.subjectSetPer !== undefined) set.subject_set_per = change.subjectSetPer;
  if (change.subjectSetNaming !== undefined) set.subject_set_naming = change.subjectSetNaming;
  if (change.subjectFrames !== undefined) set.subject_frames = change.subjectFrames;
  if (change.oneIncompleteSet !== undefined) set.one_incomplete_set = change.oneIncompleteSet;
  if (change.extraMetadata !== undefined) set.extra_metadata = { ...parseExtraMetadata(change.extraMetadata) };
  // The metadata table can be large: the log names it as changed but does not copy it.
  const logged = Object.keys(change).filter((k) => k !== 'extraMetadata');
  return saveSettings(repos, who, c, set, { changed: Object.keys(change), ...Object.fromEntries(logged.map((k) => [k, (change as Record<string, unknown>)[k]])) });
}

/**
 * Replaces the PI's table of per-object columns (e.g. ML scores), given as
 * CSV: a header row whose first column is `object` (a bridge image id,
 * `<dataset id>:<stamp index>`, or a stamp index) and whose other columns
 * are metadata keys. The collection-wide columns stay.
 */
export async function replaceExtraMetadataObjects(repos: Repositories, who: Caller, c: Collection, csv: string): Promise<Collection> {
  assertMayChange(who, c);
  // Read in slices (the API keeps answering) and checked row by row, so it is stored as read.
  const objects = await readExtraMetadataTable(csv);
  const columns = parseExtraMetadata({ columns: (c.extra_metadata as { columns?: unknown }).columns }).columns;
  return saveSettings(repos, who, c, { extra_metadata: { columns, objects } }, { changed: ['extraMetadata.objects'], objects: Object.keys(objects).length });
}

/** What a change to a policy fact needs: the database, and the queue that re-evaluates what the change reopened. */
export interface FactChangeDeps {
  repos: Repositories;
  queues: Pick<JobQueue, 'add'>;
  clock: Clock;
}

/**
 * Records the Data Rights Panel's decision on a collection (a policy fact);
 * admins only, with the reason. Images the policy judged under the old
 * decision (and no reviewer has decided) are judged again.
 */
export async function setPanelApproval(d: FactChangeDeps, who: Caller, c: Collection, approval: PanelApproval, reason: string): Promise<{ reopened: number }> {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
  const reopened = await d.repos.transaction(async (tx) => {
    await tx.collections.update(c.id, { panel_approval: approval });
    await tx.audit.append([{ actor: who.username, action: 'panel_approval', entity: 'collection', entityId: c.id, collectionId: c.id, reason, detail: { from: c.panel_approval, to: approval } }]);
    if (approval === c.panel_approval) return 0;
    return reopenVerdicts(tx, c.id, { actor: who.username, reason: `Data Rights Panel approval changed: ${c.panel_approval} -> ${approval} (${reason})` });
  });
  if (reopened) await queueReevaluation(d.queues, c.id, d.clock);
  return { reopened };
}

/**
 * An admin overrides the release the mapping derived for one collection
 * (e.g. a repository serving several releases), with the reason on record.
 * Images the policy judged under the old release are judged again; a
 * reviewer's decisions stand.
 */
export async function overrideRelease(d: FactChangeDeps, who: Caller, c: Collection, r: { release: string; proprietary: boolean; embargoHours: number }, reason: string): Promise<{ collection: Collection; reopened: number }> {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
  const from = describeRelease(c);
  const reopened = await d.repos.transaction(async (tx) => {
    await tx.collections.update(c.id, { data_release: r.release, release_source: 'admin', release_proprietary: r.proprietary, release_embargo_hours: r.embargoHours });
    await tx.audit.append([{ actor: who.username, action: 'release_override', entity: 'collection', entityId: c.id, collectionId: c.id, reason, detail: { from: { release: c.data_release, source: c.release_source, proprietary: c.release_proprietary, embargoHours: c.release_embargo_hours }, to: r } }]);
    const to = describeRelease({ data_release: r.release, release_source: 'admin', release_proprietary: r.proprietary, release_embargo_hours: r.embargoHours });
    return from === to ? 0 : reopenVerdicts(tx, c.id, { actor: who.username, reason: `release set by an admin: ${from} -> ${to} (${reason})` });
  });
  if (reopened) await queueReevaluation(d.queues, c.id, d.clock);
  return { collection: await d.repos.collections.get(c.id), reopened };
}

/**
 * An admin sets this collection's publishing delay (seconds a reviewer's
 * approval waits before publishing, Undo working until then), or gives it
 * back to the deployment's PUBLISH_DELAY_SECONDS with null. Audited. Images
 * already approved keep the delay they were given.
 */
export async function setPublishDelay(repos: Repositories, who: Caller, c: Collection, seconds: number | null, reason: string): Promise<Collection> {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
  await repos.transaction(async (tx) => {
    await tx.collections.update(c.id, { publish_delay_seconds: seconds });
    await tx.audit.append([{ actor: who.username, action: 'publish_delay', entity: 'collection', entityId: c.id, collectionId: c.id, reason, detail: { from: c.publish_delay_seconds, to: seconds } }]);
  });
  return repos.collections.get(c.id);
}

/** A settings change and its audit entry commit together; returns the collection as saved. */
async function saveSettings(repos: Repositories, who: Caller, c: Collection, set: CollectionChanges, detail: Record<string, unknown>): Promise<Collection> {
  await repos.transaction(async (tx) => {
    // Before the update: it compares the stored metadata with the new.
    const sentBack = set.extra_metadata !== undefined ? await sendBackChangedMetadata(tx, c.id, set.extra_metadata, who.username) : [];
    if (set.upload_mode !== undefined) await applyModeToUnsentBatches(tx, c.id, set.upload_mode);
    await tx.collections.update(c.id, set);
    await tx.audit.append([{ actor: who.username, action: 'settings', entity: 'collection', entityId: c.id, collectionId: c.id, reason: null, detail: sentBack.length ? { ...detail, sentBackToReview: sentBack.length } : detail }]);
  });
  return repos.collections.get(c.id);
}

/**
 * A new upload mode applies to the collection's batches that have sent
 * nothing to Zooniverse yet (no import started, no subject created),
 * whatever their state; a batch part-way finishes in the mode it began.
 */
async function applyModeToUnsentBatches(tx: Repositories, collectionId: string, mode: 'import' | 'api'): Promise<void> {
  for (const b of await tx.ledger.inStates(collectionId, ['manifested', 'waiting', 'failed', 'blocked'])) {
    if (b.mode === mode || b.import_id) continue;
    if ((await tx.ledger.count(b.id, ['created', 'linked'])) > 0) continue;
    await tx.ledger.setMode(b.id, mode);
  }
}
