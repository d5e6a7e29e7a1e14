import type { PipelineDeps } from './pipeline.js';
import type { DatasetRef } from './ports/butler-source.js';

/**
 * Polling a collection: what the Butler lists after the stored cursor is
 * recorded as artifacts in state `discovered`, one per dataset however
 * often it is listed, and the cursor moves past it.
 *
 * Recording is in bulk: a chunk of the listing is one transaction holding
 * one read and one write statement for all its datasets (the repository's
 * recordDiscovered), then the cursor. A chunk and the cursor after it commit
 * together, so a crash mid-poll resumes after the last committed chunk and
 * never skips a dataset. Two chunks are written at once (on Postgres, on two
 * connections: one is prepared and sent while the database writes the
 * other), but each moves the cursor only after the chunk before it has
 * committed, so the stored cursor never passes a dataset not yet recorded.
 */

/** Datasets per transaction: large enough that 100,000 are a few dozen round trips, small enough that a retry after a crash redoes little. */
export const POLL_CHUNK = 5000;
/** Chunks written at once. PGlite has one connection, so there they queue. */
const WRITERS = 2;

export async function pollCollection(d: PipelineDeps, collectionId: string, actor = 'poller'): Promise<{ newArtifactIds: string[] }> {
  const c = await d.repos.collections.find(collectionId);
  if (!c || c.status !== 'active') return { newArtifactIds: [] };
  const source = d.sources(c);
  // A collection's first poll (no artifact yet) need not ask which of its datasets are known. A stored cursor
  // means a chunk was recorded, so polls after the first skip the check.
  const noneKnown = c.cursor === null && !(await d.repos.artifacts.anyOf(c.id));
  const fresh: string[] = [];
  let chunk: DatasetRef[] = [];
  let cursor = c.cursor;
  // One review batch per poll that found something, made by the first chunk with a new dataset.
  let batch: { id: Promise<string>; chunk: number } | undefined;
  // Each chunk's transaction, by number; the last one started: the next one's cursor waits for its commit.
  const committed: Promise<void>[] = [];
  let previous: Promise<void> = Promise.resolve();
  const writing: Promise<void>[] = [];
  const write = (refs: DatasetRef[]) => {
    const before = previous;
    const n = committed.length;
    const done = d.repos.transaction(async (tx) => {
      const ids = await tx.artifacts.recordDiscovered(c.id, refs, actor, async () => {
        // The batch is made by the first chunk with something new, once every chunk before it has
        // committed (one of them may have made it). A later chunk uses it once its maker has
        // committed: before that the artifacts' foreign key cannot see it. So a chunk only ever
        // waits for earlier ones, never the other way round.
        if (!batch) await before;
        batch ??= { id: tx.batches.create(c.id).then((b) => b.id), chunk: n };
        if (batch.chunk !== n) await committed[batch.chunk];
        return batch.id;
      }, { noneKnown });
      // A failed chunk before this one fails this one too: its rows roll back and the cursor stays.
      await before;
      cursor = maxCursor(cursor, refs);
      await tx.collections.recordPoll(c.id, { cursor });
      fresh.push(...ids);
    });
    // Its failure is seen where it is awaited (the chunk after it, or the end of the poll).
    done.catch(() => {});
    committed.push(done);
    previous = done;
    writing.push(done);
  };
  const flush = async () => {
    // Chunks commit in order, so waiting for the oldest is waiting for a free writer.
    while (writing.length >= WRITERS) await writing.shift();
    if (!chunk.length) return;
    const refs = chunk;
    chunk = [];
    write(refs);
  };
  // A chained collection can reach runs that are not the PI's: only the
  // registered run and runs below it are theirs to publish.
  const outside: DatasetRef[] = [];
  try {
    for await (const ref of source.listDatasets({ repository: c.repository, collection: c.name, datasetType: c.dataset_type, after: c.cursor ?? undefined })) {
      if (!inRegisteredRun(ref.run, c.name)) {
        outside.push(ref);
        continue;
      }
      chunk.push(ref);
      if (chunk.length >= POLL_CHUNK) await flush();
    }
    await flush();
    await previous;
    if (outside.length) d.log.warn({ collectionId, refused: outside.length }, 'poll refused datasets outside the registered run');
    await d.repos.collections.recordPoll(c.id, { error: outside.length ? outsideMessage(c.name, outside) : null });
  } catch (e) {
    // Chunks still being written finish (or fail) before the error is recorded beside their cursor.
    await previous.catch(() => {});
    await d.repos.collections.recordPoll(c.id, { error: (e as Error).message });
    throw e;
  }
  if (fresh.length) d.log.info({ collectionId, newArtifacts: fresh.length }, 'poll found new datasets');
  return { newArtifactIds: fresh };
}

/** The registered run itself, or a run below it (`u/alien/x/2026-12`), never a sibling that merely shares the prefix (`u/alien/xyz`). */
export function inRegisteredRun(run: string, collection: string): boolean {
  return run === collection || run.startsWith(`${collection}/`);
}

function outsideMessage(collection: string, refs: DatasetRef[]): string {
  const shown = refs.slice(0, 3).map((r) => `${r.id} (run ${r.run})`).join(', ');
  return `refused ${refs.length} dataset(s) outside the registered run ${collection}: ${shown}${refs.length > 3 ? ', ...' : ''}; only ${collection} and runs below it are published`;
}

function maxCursor(current: string | null, refs: DatasetRef[]): string | null {
  let best = current;
  for (const r of refs) if (best === null || r.cursor > best) best = r.cursor;
  return best;
}
