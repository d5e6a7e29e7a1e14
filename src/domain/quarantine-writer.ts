import { createHash } from 'node:crypto';
import type { Artifact, Collection, ImageDataset } from './model.js';
import type { NewImage } from './ports/images-repository.js';
import type { Repositories } from './ports/repositories.js';
import type { ObjectStore } from './ports/object-store.js';
import type { StampRecord } from '../imaging/convert.js';

/**
 * Where conversion output goes: each image (and its frames) into the
 * quarantine area of the object store as soon as it is made, then every
 * image's row in one transaction. Objects are content-addressed, so writing
 * them before the rows commit is safe: a crash leaves at most an object that
 * the retry writes again.
 */

/** Parallel object writes per group: enough to hide S3 latency, few enough to be polite. */
const STORE_CONCURRENCY = 8;

export interface MadeImage {
  record: StampRecord;
  bytes: Uint8Array;
  jpeg: boolean;
  /** Per-band grey frames, in channel order. */
  frames?: { band: string; png: Uint8Array }[];
}

interface StoredObject {
  sha256: string;
  key: string;
  bytes: number;
}

interface StoredImage {
  record: StampRecord;
  object: StoredObject;
  frames: (StoredObject & { band: string; position: number })[];
}

export interface QuarantineWriter {
  /** Starts storing an image; waits only while STORE_CONCURRENCY images are already being stored. */
  add(img: MadeImage): Promise<void>;
  /** Waits for every write; throws the first failure. */
  flush(): Promise<StoredImage[]>;
  /** The first failed write, if any: the store's trouble, not the input's. */
  readonly failure: unknown;
}

export function quarantineWriter(store: ObjectStore, collectionId: string): QuarantineWriter {
  const stored: StoredImage[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const put = async (bytes: Uint8Array, jpeg: boolean): Promise<StoredObject> => {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `images/${collectionId}/${sha256}.${jpeg ? 'jpg' : 'png'}`;
    // The hash names the key anyway: handed over so the store does not hash the bytes again.
    await store.put('quarantine', key, bytes, { contentType: jpeg ? 'image/jpeg' : 'image/png', sha256 });
    return { sha256, key, bytes: bytes.length };
  };
  const storeImage = async (img: MadeImage) => {
    const [object, ...frames] = await Promise.all([put(img.bytes, img.jpeg), ...(img.frames ?? []).map((f) => put(f.png, false))]);
    stored.push({ record: img.record, object, frames: frames.map((f, i) => ({ ...f, band: img.frames![i].band, position: i + 1 })) });
  };
  return {
    get failure() {
      return failure;
    },
    async add(img) {
      if (failure !== undefined) throw failure;
      const p: Promise<void> = storeImage(img)
        .catch((e) => {
          failure ??= e;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= STORE_CONCURRENCY) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
    },
    async flush() {
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      return stored.sort((a, b) => a.record.index - b.record.index);
    },
  };
}

/** The group an image set belongs to, as its rows record it. */
export interface ImageGroup {
  groupKey: string;
  bands: string[];
  colour: Record<string, unknown>;
  observedAt?: string | null;
  /** The datasets every image of the group was made from, in channel order. */
  datasets: { artifact: Artifact; position: number }[];
}

/**
 * Records a conversion's stored images and failed stamps: the image rows,
 * their frames and datasets, and the artifacts' move to 'converted' commit
 * together. Returns how many images were quarantined by this call (a re-run
 * finds the rows there and adds nothing).
 */
export async function recordImages(
  repos: Repositories,
  c: Collection,
  g: ImageGroup,
  images: StoredImage[],
  failed: { index: number; error: string }[],
  arts: Artifact[],
  actor: string,
  /** What the converter noticed but worked around, per artifact id (trailing bytes, missing stamps): kept in its audit entry. */
  notes: Map<string, string[]> = new Map(),
): Promise<number> {
  // Bands of one group can arrive in different polls: the group belongs to the batch that completed it.
  const latest = [...arts].sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime()).at(-1);
  const base = { collectionId: c.id, groupKey: g.groupKey, bands: g.bands, colour: g.colour, batchId: latest?.batch_id ?? null, observedAt: g.observedAt ?? null };
  const rows: NewImage[] = images.map(({ record: r, object }) => ({ ...base, stampIndex: r.index, state: 'quarantined', ra: r.ra, dec: r.dec, wcsQuality: r.wcs, width: r.width, height: r.height, bytes: r.bytes, sha256: object.sha256, quarantineKey: object.key, error: null, objectId: r.objectId ?? null }));
  for (const f of failed) {
    rows.push({ ...base, stampIndex: f.index, state: 'failed', ra: null, dec: null, wcsQuality: 'none', width: 0, height: 0, bytes: 0, sha256: '', quarantineKey: '', error: f.error });
  }
  const frames = new Map(images.map((img) => [img.record.index, img.frames]));
  return repos.transaction(async (tx) => {
    const inserted = await tx.images.insert(rows, actor);
    // Only images inserted now get frames and datasets: a re-run finds them already committed together.
    await tx.images.insertFrames(inserted.flatMap((img) => (frames.get(img.stamp_index) ?? []).map((f) => ({ image_id: img.id, band: f.band, position: f.position, quarantine_key: f.key, sha256: f.sha256, bytes: f.bytes }))));
    await tx.images.linkDatasets(inserted.flatMap((img) => g.datasets.map(({ artifact: a, position }): ImageDataset => ({ image_id: img.id, artifact_id: a.id, dataset_id: a.dataset_id, band: a.band, position }))));
    for (const a of arts) await tx.artifacts.transition(a.id, 'retrieved', 'converted', actor, {}, notes.get(a.id)?.join('; ') || null);
    return inserted.filter((r) => r.state === 'quarantined').length;
  });
}
