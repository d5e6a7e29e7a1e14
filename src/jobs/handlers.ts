import { UnrecoverableError } from 'bullmq';
import { releaseRound, type JobName, type JobPayload } from './catalogue.js';
import type { JobQueues } from './queues.js';
import { convertGroup, failArtifact, pollCollection, retrieveArtifact, UnprocessableInputError, type PipelineDeps } from '../domain/pipeline.js';
import { UpstreamRefusedError, NotFoundError } from '../domain/errors.js';
import { listCollections } from '../db/repositories/collections.js';
import { applyPolicy, type ReviewDeps } from '../domain/review.js';
import { NotPublishableError, publishImage, withdrawAbandoned } from '../domain/publish.js';
import { planUploadBatches, writeManifests } from '../domain/manifest.js';
import { approvedUnpublished, giveUpUploads, stalledReleases, uploadCollection, type ReleaseDeps } from '../domain/release.js';
import { deliverEvent, undelivered } from '../domain/notify.js';
import type { WebhookSender } from '../domain/ports/webhook-sender.js';
import { purgeExpired } from '../db/repositories/sessions.js';
import { sweepCandidates } from '../db/repositories/artifacts.js';

export interface HandlerContext {
  attemptsMade: number;
  maxAttempts: number;
}

export type Handler<N extends JobName> = (payload: JobPayload<N>, ctx: HandlerContext) => Promise<unknown>;
export type Handlers = { [N in JobName]: Handler<N> };

/** Errors retrying cannot fix become UnrecoverableError, with the reason the PI will read. */
function permanent(e: unknown): never {
  if (e instanceof UnprocessableInputError || e instanceof UpstreamRefusedError || e instanceof NotFoundError || e instanceof NotPublishableError) throw new UnrecoverableError(e.message);
  throw e;
}

export function pipelineHandlers(d: PipelineDeps, review: ReviewDeps, release: ReleaseDeps, queues: JobQueues, opts: { sweepAgeMs: number; webhooks: WebhookSender }): Handlers {
  // Events are rows first; this queues their delivery (job ids keep it to one each).
  const notifyPending = async () => {
    for (const eventId of await undelivered(review.repos)) await queues.add('notify', { eventId });
  };
  return {
    async poll({ collectionId }) {
      const { newArtifactIds } = await pollCollection(d, collectionId).catch(permanent);
      for (const artifactId of newArtifactIds) await queues.add('retrieve', { artifactId });
      return { new: newArtifactIds.length };
    },
    async retrieve({ artifactId }, ctx) {
      try {
        const { readyGroup } = await retrieveArtifact(d, artifactId);
        if (readyGroup) await queues.add('convert', readyGroup);
        return { ready: !!readyGroup };
      } catch (e) {
        const last = ctx.attemptsMade + 1 >= ctx.maxAttempts;
        const refused = e instanceof UpstreamRefusedError || e instanceof NotFoundError;
        // The artifact records why, so the PI sees it without reading logs.
        if (refused || last) await failArtifact(d, artifactId, (e as Error).message, 'retriever');
        return permanent(e);
      }
    },
    async convert({ collectionId, groupKey }) {
      const r = await convertGroup(d, collectionId, groupKey).catch(permanent);
      if (r.images) await queues.add('evaluate', { collectionId, after: groupKey });
      return r;
    },
    async evaluate({ collectionId }) {
      const r = await applyPolicy(review, collectionId).catch(permanent);
      await notifyPending();
      return r;
    },
    async publish({ imageId }) {
      return publishImage({ repos: review.repos, store: d.store }, imageId).catch(permanent);
    },
    async manifest({ collectionId }) {
      await planUploadBatches({ db: d.db }, collectionId);
      const pending = await d.db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', '=', 'publishing').orderBy('seq').execute();
      for (const b of pending) await writeManifests({ db: d.db, store: d.store }, b.id).catch(permanent);
      await notifyPending();
      return { manifested: pending.length };
    },
    async upload({ collectionId }, ctx) {
      try {
        return await uploadCollection(release, collectionId);
      } catch (e) {
        if (ctx.attemptsMade + 1 >= ctx.maxAttempts && !(e instanceof UpstreamRefusedError)) {
          await giveUpUploads(release, collectionId, `gave up after ${ctx.maxAttempts} attempts: ${(e as Error).message}`);
        }
        return permanent(e);
      } finally {
        await notifyPending();
      }
    },
    async notify({ eventId }) {
      return deliverEvent({ repos: review.repos, webhooks: opts.webhooks }, eventId);
    },
    async sweep() {
      // The database is the truth: re-enqueue work whose job was lost (job ids dedupe the rest).
      const c = await sweepCandidates(d.db, new Date(Date.now() - opts.sweepAgeMs), 5000);
      for (const artifactId of c.discovered) await queues.add('retrieve', { artifactId });
      for (const g of c.groups) await queues.add('convert', g);
      for (const collectionId of c.unevaluated) await queues.add('evaluate', { collectionId, after: 'sweep' });
      // Approved images whose release was lost, and batches that never finished uploading.
      const unreleased = await approvedUnpublished(release.repos, new Date(Date.now() - opts.sweepAgeMs));
      for (const [collectionId, ids] of unreleased) await queues.release(collectionId, ids);
      // Batches whose manifest or upload job was lost, or that wait on volunteers (paced uploads) and need asking again.
      const stalled = await stalledReleases(release.repos, new Date(Date.now() - opts.sweepAgeMs));
      for (const m of stalled.manifest) await queues.add('manifest', { collectionId: m.collectionId, round: `sweep-${releaseRound(m.marks)}` });
      if (release.panoptes) for (const u of stalled.upload) await queues.add('upload', { collectionId: u.collectionId, round: `sweep-${releaseRound(u.marks)}` });
      await withdrawAbandoned({ repos: review.repos, store: d.store }, 'sweeper');
      await purgeExpired(d.db);
      await notifyPending();
      const active = await listCollections(d.db, { status: 'active' });
      for (const col of active) await queues.schedulePoll(col.id, col.poll_interval_seconds);
      return { retrieve: c.discovered.length, convert: c.groups.length, evaluate: c.unevaluated.length, release: unreleased.size, stalled: stalled.manifest.length + stalled.upload.length, schedulers: active.length };
    },
  };
}
