import { afterAll, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { convertSet, type StampLine } from '../../src/imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { DEMO_LAYOUT, writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createBatch } from '../../src/db/repositories/batches.js';
import { insertImages } from '../../src/db/repositories/images.js';
import type { Db } from '../../src/db/database.js';
import type { Collection, Image, ImageState } from '../../src/db/schema.js';
import { freshDatabase, type TestDb } from '../support/databases.js';

/** Shared set-up for the publishing tests: a real filesystem store, real converted PNGs, rows as the pipeline leaves them. */

export const PUBLIC_BASE = 'http://bridge.test';

export async function tempStore(): Promise<{ store: FsObjectStore; dir: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'publish-test-'));
  const store = new FsObjectStore({ root: join(dir, 'objects'), publicBaseUrl: PUBLIC_BASE });
  return { store, dir, close: () => rm(dir, { recursive: true, force: true }) };
}

export interface PublishSetting {
  readonly t: TestDb;
  readonly fs: Awaited<ReturnType<typeof tempStore>>;
  /** Real converter output (see renderedStamps). */
  readonly stamps: Rendered[];
}

/**
 * The setting of a publishing test, registered on the enclosing describe: a
 * database of `kind`, a filesystem store and the rendered stamps, for the
 * block. Read its fields inside hooks and tests (they are set by then).
 */
export function publishSetting(kind: 'pglite' | 'postgres'): PublishSetting {
  const s = {} as { t: TestDb; fs: Awaited<ReturnType<typeof tempStore>>; stamps: Rendered[] };
  beforeAll(async () => {
    s.t = await freshDatabase(kind);
    s.fs = await tempStore();
    s.stamps = await renderedStamps();
  });
  afterAll(async () => {
    await s.t?.close();
    await s.fs?.close();
  });
  return s;
}

const FIX = join(import.meta.dirname, '../fixtures/fits');

export interface Rendered {
  png: Uint8Array;
  line: StampLine;
}

let rendered: Promise<Rendered[]> | undefined;

/**
 * Real renderings, converted as the pipeline converts: the stamps_wcs fixture
 * (full WCS) first, then synthetic Rubin-like stamps with RA_DEG/DEC_DEG
 * (position-only AVM), all with Source and provenance chunks, all different pixels.
 */
export function renderedStamps(): Promise<Rendered[]> {
  rendered ??= (async () => {
    const work = await mkdtemp(join(tmpdir(), 'publish-render-'));
    try {
      await writeDemoArtifacts(join(work, 'in'), { ...DEMO_LAYOUT, tracts: [9813], patches: [42], stampsPerFile: 12, size: 48 });
      const demo = (band: string) => join(work, 'in', DEMO_LAYOUT.run, DEMO_LAYOUT.datasetType, '9813', '42', band, `${DEMO_LAYOUT.datasetType}_${band}_9813_42_${DEMO_LAYOUT.run.replace(/\//g, '_')}.fits`);
      const sets = [
        ['i', 'r', 'g'].map((band) => ({ band, path: join(FIX, `stamps_wcs_${band}.fits`) })),
        ['i', 'r', 'g'].map((band) => ({ band, path: demo(band) })),
      ];
      const all: Rendered[] = [];
      for (const [k, channels] of sets.entries()) {
        const out = join(work, `out${k}`);
        const r = await convertSet({ channels, outDir: out, opts: DEFAULT_CONVERT_OPTIONS, workers: 0 });
        if (r.failed.length) throw new Error(`fixture conversion failed: ${JSON.stringify(r.failed)}`);
        const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StampLine);
        for (const line of lines) all.push({ line, png: new Uint8Array(await readFile(join(out, line.file))) });
      }
      return all;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  })();
  return rendered;
}

let n = 0;
export async function collection(db: Db, o: { extra?: unknown; maxBatch?: number } = {}): Promise<Collection> {
  const c = await createCollection(db, { owner: 'alien', repository: 'dp1', name: `u/alien/publish-${++n}-${Date.now()}`, sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
  const set: Record<string, unknown> = {};
  if (o.extra !== undefined) set.extra_metadata = JSON.stringify(o.extra);
  if (o.maxBatch !== undefined) set.max_batch_size = o.maxBatch;
  if (Object.keys(set).length) await db.updateTable('collections').set(set).where('id', '=', c.id).execute();
  return (await db.selectFrom('collections').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow());
}

export const GROUP = '{"patch":4,"tract":9813}';

/** Band artifacts of a group, so manifests can name the dataset ids. */
export async function artifacts(db: Db, c: Collection, groupKey = GROUP): Promise<string[]> {
  const out: string[] = [];
  for (const [i, band] of ['g', 'i', 'r'].entries()) {
    const id = `${c.id.slice(0, 8)}-0000-5000-8000-${String(i).padStart(12, '0')}`;
    out.push(id);
    await db
      .insertInto('artifacts')
      .values({ collection_id: c.id, dataset_id: id, dataset_type: 'zooniverse_cutout', run: 'run', data_id: JSON.stringify({ band, tract: 9813, patch: 4 }), band, group_key: groupKey, cursor: `c${i}`, object_key: `artifacts/${c.id}/${i}.fits`, state: 'converted' })
      .execute();
  }
  return out;
}

export interface SeedImage {
  png: Uint8Array;
  state?: ImageState;
  strip?: boolean;
  ra?: number | null;
  dec?: number | null;
  stampIndex: number;
  groupKey?: string;
  batchId?: string;
}

/** Stores the PNG in quarantine and records the image as conversion and review leave it. */
export async function seedImages(db: Db, store: FsObjectStore, c: Collection, imgs: SeedImage[]): Promise<Image[]> {
  const batch = await createBatch(db, c.id);
  const rows = [];
  for (const s of imgs) {
    const sha = createHash('sha256').update(s.png).digest('hex');
    const key = `images/${c.id}/${sha}.png`;
    await store.put('quarantine', key, s.png, { contentType: 'image/png' });
    rows.push({ collectionId: c.id, groupKey: s.groupKey ?? GROUP, stampIndex: s.stampIndex, state: 'quarantined' as const, ra: s.ra === undefined ? 150.123456789 : s.ra, dec: s.dec === undefined ? -2.5 : s.dec, wcsQuality: 'full' as const, width: 64, height: 64, bytes: s.png.length, sha256: sha, quarantineKey: key, bands: ['i', 'r', 'g'], colour: { preset: 'auto' }, error: null, batchId: s.batchId ?? batch.id });
  }
  const inserted = await insertImages(db, rows, 'converter');
  // Conversion links each image to the band artifacts of its group (channel order i, r, g), when the test made them.
  for (const img of inserted) {
    const arts = await db.selectFrom('artifacts').select(['id', 'dataset_id', 'band']).where('collection_id', '=', c.id).where('group_key', '=', img.group_key).execute();
    const links = arts.map((a) => ({ image_id: img.id, artifact_id: a.id, dataset_id: a.dataset_id, band: a.band, position: img.bands.indexOf(a.band ?? '') + 1 }));
    if (links.length) await db.insertInto('image_datasets').values(links).execute();
  }
  for (const [i, img] of inserted.entries()) {
    const s = imgs[i];
    await db
      .updateTable('images')
      .set({ state: s.state ?? 'approved', verdict: 'pending_review', strip_coordinates: s.strip ?? true })
      .where('id', '=', img.id)
      .execute();
  }
  return db.selectFrom('images').selectAll().where('id', 'in', inserted.map((r) => r.id)).orderBy('stamp_index').execute();
}

/** A minimal CSV reader (RFC 4180), independent of the writer under test. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}
