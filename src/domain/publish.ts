import { createHash } from 'node:crypto';
import type { Image, ImageFrame } from './model.js';
import type { Clock } from './ports/clock.js';
import type { Repositories } from './ports/repositories.js';
import { stripCoordinates, type ImageFormat } from '../imaging/png/strip-coordinates.js';
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from './errors.js';
import type { ObjectStore, StoredObject } from './ports/object-store.js';

/**
 * The only way into the public store. Quarantine is private; what leaves it
 * is an image that the data-rights policy and EPO review approved, in the
 * form the policy allows (coordinates stripped or not), or a manifest that
 * lists such images. test/publish/one-place.test.ts fails the build if any
 * other module writes to the public area.
 *
 * Publishing one image is three steps, so that a crash anywhere leaves
 * something a re-run or the sweeper can finish or undo:
 *   1. under the image's row lock, check it is approved and record the
 *      content-addressed key it will have (the intent);
 *   2. write the object (skipped when it is already there: same key, same bytes);
 *   3. under the row lock again, move approved -> published and audit it.
 * If a reviewer rejected or recalled the image between 1 and 3, step 3
 * withdraws the object instead. An image's per-band frames (flipbook
 * subjects) travel with it through the same three steps: reviewed together,
 * published together, withdrawn together. If the process died between 1 and 3 and the
 * image was then rejected, `withdrawAbandoned` finds the recorded key.
 */
export interface PublishDeps {
  repos: Repositories;
  store: ObjectStore;
  clock?: Clock;
}

export interface PublishResult {
  imageId: string;
  publicKey: string;
  publicSha256: string;
  url: string;
  stripped: boolean;
  /** True when the image had already been published (nothing was written). */
  alreadyPublished: boolean;
}

/** Refused: the image is not (or no longer) approved for publishing. */
export class NotPublishableError extends ConflictError {}

/**
 * Not yet: a reviewer's approval is inside its publishing delay (Undo still
 * works). Retrying after `retryAfterMs` publishes it, unless it was undone.
 */
export class PublishNotDueError extends ConflictError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message, { retryAfterMs });
  }
}

function refuseUntilDue(img: Image, now: Date): void {
  if (!img.publish_after) return;
  const wait = img.publish_after.getTime() - now.getTime();
  if (wait > 0) throw new PublishNotDueError(`image ${img.id} is inside its publishing delay until ${img.publish_after.toISOString()} (Undo still takes the approval back)`, wait);
}

/** Public objects are named by their content, so they never change and can be cached for good. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Manifests are rewritten when a batch is re-manifested; Panoptes must not see a stale copy. */
const MANIFEST_CACHE_CONTROL = 'public, no-cache';

/** States in which an image has a live public object. */
const LIVE = ['published', 'uploaded'] as const;

const FORMATS: Record<ImageFormat, { ext: string; contentType: string }> = {
  png: { ext: 'png', contentType: 'image/png' },
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
};

/** `subjects/ab/cd/<sha256>.png`: two fan-out levels keep directories and S3 prefixes small. */
export function publicKeyFor(sha256: string, format: ImageFormat): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ValidationError(`not a hex SHA-256: ${sha256.slice(0, 80)}`, { field: 'sha256' });
  return `subjects/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.${FORMATS[format].ext}`;
}

export function contentTypeOfKey(key: string): string {
  return /\.jpe?g$/i.test(key) ? 'image/jpeg' : 'image/png';
}

function formatOfKey(key: string): ImageFormat {
  return /\.jpe?g$/i.test(key) ? 'jpeg' : 'png';
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function refuseUnlessApproved(img: Image): void {
  if (img.state === 'approved') return;
  if (img.state === 'retracted') throw new NotPublishableError(`image ${img.id} was retracted and cannot be published again`);
  const why =
    img.state === 'quarantined' ? (img.verdict === 'pending_review' ? 'still waiting for EPO review' : 'still in quarantine without an approval') : img.state === 'failed' ? `a failed conversion${img.error ? ` (${img.error})` : ''}` : img.state;
  throw new NotPublishableError(`image ${img.id} is ${img.state} (${why}): only approved images can be published`, { imageId: img.id, state: img.state });
}

/** The bytes the public will get: the reviewed quarantine bytes, coordinates stripped when the policy says so. */
interface Prepared {
  key: string;
  sha256: string;
  format: ImageFormat;
  stripped: boolean;
  /** Absent when the object goes over as a server-side copy. */
  bytes?: Uint8Array;
}

/** One object of an image in quarantine: the colour rendering, or one of its frames. */
interface Piece {
  /** For messages: "image <id>" or "image <id> frame <band>". */
  label: string;
  quarantineKey: string;
  /** What the reviewers saw. */
  sha256: string;
}

function imagePiece(img: Image): Piece {
  if (!img.quarantine_key || !img.sha256) throw new NotPublishableError(`image ${img.id} has no stored rendering`);
  return { label: `image ${img.id}`, quarantineKey: img.quarantine_key, sha256: img.sha256 };
}

function framePiece(img: Pick<Image, 'id'>, f: ImageFrame): Piece {
  return { label: `image ${img.id} frame ${f.band}`, quarantineKey: f.quarantine_key, sha256: f.sha256 };
}

async function prepare(store: ObjectStore, piece: Piece, strip: boolean): Promise<Prepared> {
  if (!strip) {
    const head = await store.head('quarantine', piece.quarantineKey);
    if (!head) throw new NotFoundError(`${piece.label}: quarantine object ${piece.quarantineKey} is missing`);
    checkReviewed(piece, head.sha256);
    const format = formatOfKey(piece.quarantineKey);
    return { key: publicKeyFor(piece.sha256, format), sha256: piece.sha256, format, stripped: false };
  }
  const { body } = await store.get('quarantine', piece.quarantineKey);
  checkReviewed(piece, sha256(body));
  const format = sniff(body, piece);
  const bytes = stripCoordinates(body, format);
  const digest = sha256(bytes);
  return { key: publicKeyFor(digest, format), sha256: digest, format, stripped: true, bytes };
}

/** What reviewers saw is what gets published: a changed quarantine object is never sent out. */
function checkReviewed(piece: Piece, actual: string): void {
  if (actual !== piece.sha256) {
    throw new ConflictError(`${piece.label}: the quarantine object does not match the reviewed image (sha256 ${actual.slice(0, 12)}..., expected ${piece.sha256.slice(0, 12)}...)`);
  }
}

function sniff(bytes: Uint8Array, piece: Piece): ImageFormat {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  throw new NotPublishableError(`${piece.label} is neither PNG nor JPEG`);
}

/** Writes the prepared object unless the same bytes are already there (a re-run after a crash). */
async function writePublic(store: ObjectStore, piece: Piece, p: Prepared): Promise<void> {
  const existing = await store.head('public', p.key);
  if (existing?.sha256 === p.sha256) return;
  const opts = { contentType: FORMATS[p.format].contentType, cacheControl: IMMUTABLE_CACHE_CONTROL };
  let written: StoredObject;
  if (p.bytes) written = await store.put('public', p.key, p.bytes, opts);
  else written = await store.copy({ area: 'quarantine', key: piece.quarantineKey }, { area: 'public', key: p.key }, opts);
  if (written.sha256 !== p.sha256) throw new UpstreamError(`public object ${p.key} was stored with sha256 ${written.sha256}, expected ${p.sha256}`);
}


function result(store: ObjectStore, img: { id: string }, key: string, sha: string, stripped: boolean, alreadyPublished: boolean): PublishResult {
  return { imageId: img.id, publicKey: key, publicSha256: sha, url: store.publicUrl(key), stripped, alreadyPublished };
}

/**
 * Publishes one approved image. Idempotent: an image already published (or
 * uploaded) returns its key without writing anything. Anything not approved
 * is refused with NotPublishableError.
 */
export async function publishImage(d: PublishDeps, imageId: string, actor = 'publisher'): Promise<PublishResult> {
  const before = await d.repos.images.find(imageId);
  if (!before) throw new NotFoundError(`image ${imageId} not found`);
  if (isLive(before)) return result(d.store, before, before.public_key, before.public_sha256 ?? '', before.public_sha256 !== before.sha256, true);
  refuseUnlessApproved(before);
  refuseUntilDue(before, d.clock?.now() ?? new Date());

  const p = await prepare(d.store, imagePiece(before), before.strip_coordinates);
  const frames = await d.repos.images.frames(imageId);
  const pf = await Promise.all(frames.map((f) => prepare(d.store, framePiece(before, f), before.strip_coordinates)));

  const intent = await d.repos.transaction(async (tx) => {
    const img = await tx.images.lock(imageId);
    if (isLive(img)) return img;
    refuseUnlessApproved(img);
    refuseUntilDue(img, d.clock?.now() ?? new Date());
    if (img.sha256 !== before.sha256) throw new ConflictError(`image ${imageId} changed while publishing; try again`);
    // A key recorded by an earlier, interrupted attempt is replaced by this one (the same, unless the stripping changed).
    await tx.images.setPublicKeys(img.id, { key: p.key, sha256: p.sha256 }, frames.map((f, i) => ({ band: f.band, key: pf[i].key, sha256: pf[i].sha256 })));
    return undefined;
  });
  if (intent && isLive(intent)) return result(d.store, intent, intent.public_key, intent.public_sha256 ?? '', p.stripped, true);

  // Frames first: once the colour image is out, the subject is complete.
  for (const [i, f] of frames.entries()) await writePublic(d.store, framePiece(before, f), pf[i]);
  await writePublic(d.store, imagePiece(before), p);

  const now = d.clock?.now() ?? new Date();
  const outcome = await d.repos.transaction(async (tx): Promise<PublishResult | Image> => {
    const img = await tx.images.lock(imageId);
    if (isLive(img)) return result(d.store, img, img.public_key, img.public_sha256 ?? '', p.stripped, true);
    if (img.state !== 'approved') {
      // Rejected or recalled to review while the bytes were on their way: take them back.
      await withdrawObject(tx, d.store, img.id, p.key);
      for (const f of pf) await withdrawObject(tx, d.store, img.id, f.key);
      await tx.images.clearPublicKeys(img.id);
      return img;
    }
    await tx.images.transition(img.id, 'approved', 'published', actor, { public_key: p.key, public_sha256: p.sha256, published_at: now });
    await tx.audit.append([
      {
        actor,
        action: 'publish',
        entity: 'image',
        entityId: img.id,
        collectionId: img.collection_id,
        policyRef: img.policy_ref,
        detail: { public_key: p.key, public_sha256: p.sha256, stripped: p.stripped, ...(frames.length ? { frames: frames.map((f, i) => ({ band: f.band, public_key: pf[i].key })) } : {}) },
      },
    ]);
    return result(d.store, img, p.key, p.sha256, p.stripped, false);
  });
  if ('publicKey' in outcome) return outcome;
  refuseUnlessApproved(outcome);
  throw new ConflictError(`image ${imageId} changed while publishing; try again`);
}

function isLive(img: Image): img is Image & { public_key: string } {
  return (LIVE as readonly string[]).includes(img.state) && img.public_key !== null;
}

async function withdrawObject(tx: Repositories, store: ObjectStore, imageId: string, key: string): Promise<boolean> {
  if (await tx.images.publicKeyInUse(key, imageId)) return false;
  await store.delete('public', key);
  return true;
}

async function withdrawFrames(tx: Repositories, store: ObjectStore, imageId: string): Promise<number> {
  let deleted = 0;
  for (const f of await tx.images.frames(imageId)) if (f.public_key && (await withdrawObject(tx, store, imageId, f.public_key))) deleted++;
  return deleted;
}

export interface UnpublishResult {
  imageId: string;
  publicKey: string | null;
  /** False when another published image shares the object, or there was none. */
  deleted: boolean;
  alreadyRetracted: boolean;
}

/**
 * Takes a published (or uploaded) image out of the public store and marks it
 * retracted. For uploaded images the caller must first unlink or delete the
 * Zooniverse subjects: once the object is gone they show blank. The object is
 * deleted before the state changes, so a crash in between leaves an image
 * that a re-run retracts, never a retracted image whose bytes are still out.
 * Re-running on a retracted image deletes its object again if still there.
 */
export async function unpublishImage(d: PublishDeps, imageId: string, actor: string, reason: string | null): Promise<UnpublishResult> {
  return d.repos.transaction(async (tx) => {
    const img = await tx.images.lock(imageId);
    if (img.state === 'retracted') {
      const deleted = img.public_key ? await withdrawObject(tx, d.store, img.id, img.public_key) : false;
      await withdrawFrames(tx, d.store, img.id);
      return { imageId, publicKey: img.public_key, deleted, alreadyRetracted: true };
    }
    if (!(LIVE as readonly string[]).includes(img.state)) throw new ConflictError(`image ${imageId} is ${img.state}; only published or uploaded images can be retracted`);
    const deleted = img.public_key ? await withdrawObject(tx, d.store, img.id, img.public_key) : false;
    const framesDeleted = await withdrawFrames(tx, d.store, img.id);
    await tx.images.transition(img.id, img.state, 'retracted', actor, {}, reason);
    await tx.audit.append([
      { actor, action: 'retract', entity: 'image', entityId: img.id, collectionId: img.collection_id, policyRef: img.policy_ref, reason, detail: { from: img.state, public_key: img.public_key, deleted, ...(framesDeleted ? { framesDeleted } : {}) } },
    ]);
    return { imageId, publicKey: img.public_key, deleted, alreadyRetracted: false };
  });
}

/**
 * The sweeper's half of step 1: images whose publish recorded a key but
 * never committed, and that were then rejected or sent back to review. Their
 * object (if it was written) is withdrawn and the key cleared. Returns how
 * many images were cleaned.
 */
export async function withdrawAbandoned(d: PublishDeps, actor = 'publisher', limit = 100): Promise<number> {
  let n = 0;
  for (const id of await d.repos.images.abandonedPublic(limit)) {
    await d.repos.transaction(async (tx) => {
      const img = await tx.images.lock(id);
      if (!img.public_key || (img.state !== 'quarantined' && img.state !== 'rejected')) return;
      const deleted = await withdrawObject(tx, d.store, img.id, img.public_key);
      await withdrawFrames(tx, d.store, img.id);
      await tx.images.clearPublicKeys(img.id);
      await tx.audit.append([
        { actor, action: 'withdraw', entity: 'image', entityId: img.id, collectionId: img.collection_id, policyRef: img.policy_ref, reason: `publishing was interrupted and the image is now ${img.state}`, detail: { public_key: img.public_key, deleted } },
      ]);
      n++;
    });
  }
  return n;
}

/**
 * The bytes an export would publish for an image, without writing anything:
 * the public object when the image is live, else the quarantine bytes as
 * publishImage would transform them. Only approved or live images.
 */
export async function publishableBytes(store: ObjectStore, img: Image): Promise<{ bytes: Uint8Array; sha256: string; contentType: string; ext: string; stripped: boolean }> {
  if (isLive(img)) {
    const { body } = await store.get('public', img.public_key);
    const digest = sha256(body);
    if (img.public_sha256 && digest !== img.public_sha256) throw new ConflictError(`image ${img.id}: public object ${img.public_key} does not match its recorded sha256`);
    const format = formatOfKey(img.public_key);
    return { bytes: body, sha256: digest, contentType: FORMATS[format].contentType, ext: FORMATS[format].ext, stripped: digest !== img.sha256 };
  }
  refuseUnlessApproved(img);
  return preparedBytes(store, imagePiece(img), img.strip_coordinates);
}

/** publishableBytes for one of the image's frames. */
export async function publishableFrameBytes(store: ObjectStore, img: Image, f: ImageFrame): Promise<{ bytes: Uint8Array; sha256: string; contentType: string; ext: string; stripped: boolean }> {
  if (isLive(img) && f.public_key) {
    const { body } = await store.get('public', f.public_key);
    const digest = sha256(body);
    if (f.public_sha256 && digest !== f.public_sha256) throw new ConflictError(`image ${img.id} frame ${f.band}: public object ${f.public_key} does not match its recorded sha256`);
    return { bytes: body, sha256: digest, contentType: 'image/png', ext: 'png', stripped: digest !== f.sha256 };
  }
  refuseUnlessApproved(img);
  return preparedBytes(store, framePiece(img, f), img.strip_coordinates);
}

async function preparedBytes(store: ObjectStore, piece: Piece, strip: boolean) {
  const p = await prepare(store, piece, strip);
  const bytes = p.bytes ?? (await store.get('quarantine', piece.quarantineKey)).body;
  if (!p.bytes) checkReviewed(piece, sha256(bytes));
  return { bytes, sha256: p.sha256, contentType: FORMATS[p.format].contentType, ext: FORMATS[p.format].ext, stripped: p.stripped };
}

/** Manifests go public too (Panoptes fetches the CSV itself), but only under manifests/ and only as CSV or JSON. */
const MANIFEST_TYPES = new Set(['text/csv; charset=utf-8', 'application/json']);

export async function putPublicManifest(store: ObjectStore, key: string, body: Uint8Array, contentType: 'text/csv; charset=utf-8' | 'application/json'): Promise<StoredObject> {
  if (!key.startsWith('manifests/') || !/\.(csv|json)$/.test(key)) throw new ValidationError(`manifest key ${key} must be manifests/....csv or .json`, { field: 'key' });
  if (!MANIFEST_TYPES.has(contentType)) throw new ValidationError(`manifests are CSV or JSON, not ${contentType}`, { field: 'contentType' });
  return store.put('public', key, body, { contentType, cacheControl: MANIFEST_CACHE_CONTROL });
}
