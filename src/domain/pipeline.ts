import type { Artifact, Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ButlerSource, DatasetRef } from './ports/butler-source.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import type { StampPool } from '../imaging/convert-pool-port.js';
import { convertBandGroup, convertZipArtifact } from './group-conversion.js';
import { settleBatches } from './batch-settlement.js';
import { recordArtifactFailure } from './dataset-failure.js';

/**
 * The pipeline up to quarantine, as plain functions over ports: poll a
 * collection, retrieve one artifact, convert one band group. Each is
 * idempotent (safe to run twice, or after a crash half-way) and says what
 * should happen next; the job layer turns that into queued work.
 *
 * Conversion touches no disk: the artifacts' bytes come from the object
 * store, the converter reads them in memory (worker threads share one copy),
 * and each PNG goes back to the store as soon as it is made.
 */
export interface PipelineDeps {
  repos: Repositories;
  store: ObjectStore;
  sources: (c: Collection) => ButlerSource;
  /** Worker threads per conversion (>= 1 keeps CPU work off the job's event loop) when there is no convertPool. */
  convertThreads: number;
  /** The process's conversion threads, shared by every conversion at once (the service's); without it each conversion starts convertThreads of its own. */
  convertPool?: StampPool;
  log: Logger;
}

// Polling lives in poll.ts (bulk recording); re-exported here, where the job handlers and the preview look for the pipeline's steps.
export { pollCollection, inRegisteredRun } from './poll.js';

function requiredBands(c: Collection): string[] {
  return [...new Set(c.rgb ?? [])];
}

/** A group has work once an archive is retrieved, or every band it needs is. */
async function groupReadiness(d: PipelineDeps, c: Collection, groupKey: string): Promise<boolean> {
  const arts = await d.repos.artifacts.group(c.id, groupKey);
  return arts.some((a) => isZipArtifact(a) && a.state === 'retrieved') || bandsReady(c, arts);
}

function bandsReady(c: Collection, arts: Artifact[]): boolean {
  const have = new Map(arts.filter((a) => !isZipArtifact(a)).map((a) => [a.band ?? '', a.state]));
  const need = requiredBands(c);
  return need.every((b) => have.get(b) === 'retrieved' || have.get(b) === 'converted') && need.some((b) => have.get(b) === 'retrieved');
}

export async function retrieveArtifact(d: PipelineDeps, artifactId: string, actor = 'retriever'): Promise<{ readyGroup?: { collectionId: string; groupKey: string } }> {
  const a = await d.repos.artifacts.find(artifactId);
  if (!a) return {};
  const c = await d.repos.collections.get(a.collection_id);
  if (a.state === 'discovered') {
    const ref: DatasetRef = { id: a.dataset_id, datasetType: a.dataset_type, run: a.run, dataId: a.data_id, cursor: a.cursor };
    const art = await d.sources(c).fetchArtifact(c.repository, ref);
    const ext = art.path.toLowerCase().endsWith('.zip') ? '.zip' : '.fits';
    const key = `artifacts/${c.id}/${art.sha256}${ext}`;
    // The source hashed the bytes as it read them (the port's sha256): the store need not again.
    await d.store.put('quarantine', key, art.bytes, { contentType: ext === '.zip' ? 'application/zip' : 'application/fits', sha256: art.sha256 });
    await d.repos.transaction(async (tx) => {
      // The batch's lock first: of two retrievals finishing it at once, the later sees the earlier's.
      if (a.batch_id) await tx.batches.lock(a.batch_id);
      if (!(await tx.artifacts.markRetrieved(a, { path: art.path, size: art.size, sha256: art.sha256, objectKey: key }, actor)) || !a.batch_id) return;
      // The last file of its poll batch is safe in quarantine: the PI may remove their copies.
      const done = await tx.batches.markFilesRetrieved(a.batch_id);
      if (done) await tx.events.record(c.id, 'files_retrieved', { batchId: done.id, seq: done.seq, datasets: done.datasets, bytes: done.bytes, collection: c.name });
    });
  } else if (a.state !== 'retrieved') {
    return {};
  }
  return (await groupReadiness(d, c, a.group_key)) ? { readyGroup: { collectionId: c.id, groupKey: a.group_key } } : {};
}

/** A dataset that cannot be retrieved, for good: recorded with an `artifact_failed` event for the PI, in one transaction. */
export async function failArtifact(d: PipelineDeps, artifactId: string, reason: string, actor: string): Promise<void> {
  const a = await d.repos.artifacts.find(artifactId);
  if (!a) return;
  const c = await d.repos.collections.get(a.collection_id);
  await recordArtifactFailure(d.repos, a, reason, actor);
  // It may have been the last thing its batch was waiting for.
  await settleBatches(d.repos, c);
}

export async function convertGroup(d: PipelineDeps, collectionId: string, groupKey: string, actor = 'converter'): Promise<{ images: number; failedStamps: number }> {
  const c = await d.repos.collections.get(collectionId);
  const all = await d.repos.artifacts.group(c.id, groupKey);
  const arts = all.filter((a) => a.state === 'retrieved');
  const total = { images: 0, failedStamps: 0 };
  const add = (r: { images: number; failedStamps: number }) => {
    total.images += r.images;
    total.failedStamps += r.failedStamps;
  };
  try {
    // A ZIP of renderings is complete in itself; FITS bands wait for each other.
    for (const z of arts.filter(isZipArtifact)) add(await convertZipArtifact(d, c, z, actor));
    const bands = arts.filter((a) => !isZipArtifact(a));
    if (bands.length && bandsReady(c, all)) add(await convertBandGroup(d, c, groupKey, bands, actor));
  } finally {
    // A group that failed, or made no image to judge, may have been its batch's last work.
    await settleBatches(d.repos, c).catch((e: Error) => d.log.warn({ collectionId, err: e.message }, 'could not settle batches'));
  }
  return total;
}

function isZipArtifact(a: Artifact): boolean {
  return !!a.object_key?.endsWith('.zip');
}
