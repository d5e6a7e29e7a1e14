import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import JSZip from 'jszip';
import type { Repositories } from './ports/repositories.js';
import type { ObjectStore } from './ports/object-store.js';
import { ValidationError } from './errors.js';
import { publishableBytes, publishableFrameBytes } from './publish.js';
import { toCsv } from './csv.js';
import { metadataColumns, parseExtraMetadata, subjectMetadata, type SubjectMetadata } from './subject-metadata.js';

/**
 * The export behind `bridge export`: a collection's approved images and a manifest for the
 * Zooniverse Project Builder's subject uploader, in one zip, for PIs who
 * upload by hand (no API credentials).
 *
 * The zip holds `<image id>.png` (or .jpg) files and `manifest.csv`. The
 * Project Builder matches manifest cells against the names of the files
 * dropped next to it, and turns every other column into subject metadata
 * under its header name (no `metadata:` prefix, no external_id), so the
 * manifest is: `image_name_1` (and, for flipbook subjects, `image_name_2`...
 * naming the `<image id>-<band>.png` frames), then the same metadata the API path uses
 * (`#` hidden, `!` shown in Talk only; see src/domain/subject-metadata.ts), minus
 * the upload batch. The bytes are exactly what publishing would put in the
 * public store, coordinates stripped where the policy says so.
 */

export interface ExportResult {
  path: string;
  images: number;
  stripped: number;
}

function frameFile(imageId: string, band: string): string {
  return `${imageId}-${band}.png`;
}

/** A stream that fetches its bytes only when the zip writer reaches it, so one image at a time is in memory. */
function lazy(produce: () => Promise<Uint8Array>): Readable {
  let started = false;
  return new Readable({
    read() {
      if (started) return;
      started = true;
      produce().then(
        (bytes) => {
          this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          this.push(null);
        },
        (e: unknown) => this.destroy(e as Error),
      );
    },
  });
}

/**
 * Writes the export zip to `out` (a file, an HTTP response): the one writer
 * behind `bridge export` and `GET /collections/{id}/export`. Refuses a
 * collection with nothing approved before writing a byte, so a caller can
 * still answer with an error. `out` is ended when the zip is complete.
 */
export async function writeExport(
  d: { repos: Repositories; store: ObjectStore },
  collectionId: string,
  out: Writable,
  opts: { onProgress?: (done: number, total: number) => void; onStart?: (images: number) => void } = {},
): Promise<{ images: number; stripped: number }> {
  const c = await d.repos.collections.get(collectionId);
  const extra = parseExtraMetadata(c.extra_metadata);
  const images = await d.repos.images.exportable(c.id);
  if (!images.length) throw new ValidationError(`collection ${c.name} has no approved images to export`);
  opts.onStart?.(images.length);
  const datasets = await d.repos.images.datasetIds(images.map((i) => i.id));

  const zip = new JSZip();
  // Filled in as the writer reaches each image; the manifest is the last entry, so it is complete by then.
  const frames = await d.repos.images.framesByImage(images.map((i) => i.id));
  const rows: { files: string[]; metadata: SubjectMetadata }[] = [];
  let stripped = 0;
  for (const img of images) {
    const ext = /\.jpe?g$/i.test(img.public_key ?? img.quarantine_key) ? 'jpg' : 'png';
    const file = `${img.id}.${ext}`;
    const own = frames.get(img.id) ?? [];
    // Frames go first so that the image's row, written when the colour image is reached, names them all.
    for (const f of own) zip.file(frameFile(img.id, f.band), lazy(async () => (await publishableFrameBytes(d.store, img, f)).bytes), { binary: true, compression: 'STORE' });
    zip.file(
      file,
      lazy(async () => {
        const p = await publishableBytes(d.store, img);
        if (p.stripped) stripped++;
        rows.push({ files: [file, ...own.map((f) => frameFile(img.id, f.band))], metadata: subjectMetadata({ collection: c, image: img, datasetIds: datasets.get(img.id) ?? [], contentHash: p.sha256 }, extra).metadata });
        opts.onProgress?.(rows.length, images.length);
        return p.bytes;
      }),
      { binary: true, compression: 'STORE' },
    );
  }
  zip.file(
    'manifest.csv',
    lazy(async () => {
      if (rows.length !== images.length) throw new Error(`export: manifest reached before all images (${rows.length} of ${images.length})`);
      const keys = metadataColumns(rows.map((r) => r.metadata));
      const locations = Math.max(1, ...rows.map((r) => r.files.length));
      const header = [...Array.from({ length: locations }, (_, i) => `image_name_${i + 1}`), ...keys];
      const csv = toCsv(header, rows.map((r) => [...Array.from({ length: locations }, (_, i) => r.files[i] ?? ''), ...keys.map((k) => (k in r.metadata ? String(r.metadata[k]) : ''))]));
      return new TextEncoder().encode(csv);
    }),
    { binary: true, compression: 'DEFLATE' },
  );

  await pipeline(zip.generateNodeStream({ type: 'nodebuffer', streamFiles: false, platform: 'UNIX' }) as Readable, out);
  return { images: images.length, stripped };
}

/**
 * Writes the export to `outPath` (atomically: a temporary file renamed into
 * place, removed on failure). Refuses a collection with nothing approved.
 */
export async function exportCollection(
  d: { repos: Repositories; store: ObjectStore },
  collectionId: string,
  outPath: string,
  opts: { onProgress?: (done: number, total: number) => void } = {},
): Promise<ExportResult> {
  const path = resolve(outPath);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  const file = createWriteStream(tmp, { mode: 0o644 });
  try {
    const r = await writeExport(d, collectionId, file, opts);
    await rename(tmp, path);
    return { path, ...r };
  } catch (e) {
    // Closed before the file is removed, so an open still under way cannot bring it back.
    if (!file.closed) await new Promise<void>((done) => file.once('close', () => done()).destroy());
    await rm(tmp, { force: true });
    throw e;
  }
}
