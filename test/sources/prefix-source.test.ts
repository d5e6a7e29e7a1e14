import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  RetrieveArtifactsSource,
  dataIdFromFileName,
  parsePrefixCursor,
  prefixDatasetId,
  type RetrieveArtifactsSourceOptions,
} from '../../src/adapters/butler/prefix-source.js';
import { UpstreamRefusedError, ValidationError } from '../../src/domain/errors.js';
import type { DatasetRef } from '../../src/domain/ports/butler-source.js';
import { makeZip } from '../support/butler-server.js';
import { headerBlock } from '../support/fits-builder.js';
import { failure } from '../support/failure.js';

const RUN = 'u/alien/zooniverse-1';
const DT = 'zooniverse_cutout';
const TEMPLATE = '{run}/{datasetType}/{tract}/{patch}/{band}/{file}';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'prefix-source-'));
  outside = await mkdtemp(join(tmpdir(), 'prefix-outside-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** As retrieve-artifacts does: write under a temporary name, then rename into place. */
async function put(rel: string, bytes: Uint8Array): Promise<string> {
  const abs = join(root, rel);
  await mkdir(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.tmp-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, bytes);
  await rename(tmp, abs);
  return abs;
}

function fits(cards: [string, string | number][] = []): Uint8Array {
  return headerBlock([['SIMPLE', true], ['BITPIX', 8], ['NAXIS', 0], ...cards]);
}

function preservePath(band: string, tract: number, patch: number): string {
  return `${RUN}/${DT}/${tract}/${patch}/${band}/${DT}_${band}_${tract}_${patch}_u_alien_zooniverse-1.fits`;
}

function source(opts: Partial<RetrieveArtifactsSourceOptions> = {}): RetrieveArtifactsSource {
  return new RetrieveArtifactsSource({ root, lookbackMs: 0, ...opts });
}

async function list(src: RetrieveArtifactsSource, after?: string, collection = RUN, datasetType = DT): Promise<DatasetRef[]> {
  const out: DatasetRef[] = [];
  for await (const r of src.listDatasets({ repository: 'ignored', collection, datasetType, after })) out.push(r);
  return out;
}

function maxCursor(refs: DatasetRef[]): string {
  return refs.reduce((m, r) => (r.cursor > m ? r.cursor : m), '');
}

describe('RetrieveArtifactsSource listing', () => {
  it('reads the dataId from the path template, with integers as numbers, in cursor order', async () => {
    for (const tract of [9813, 9814]) for (const band of ['g', 'r', 'i']) await put(preservePath(band, tract, 42), fits());
    await put(`${RUN}/other_type/9813/42/g/other_type_g_9813_42_x.fits`, fits());
    await put(`${RUN}/${DT}/9813/42/g/notes.json`, new TextEncoder().encode('{}'));
    await writeFile(join(root, RUN, DT, '9813', '42', 'g', '.half-written.fits'), fits());
    // lsst.resources' in-flight temporaries: <16 of [a-z0-9_]><ext>, <name>.transfer-tmp
    await writeFile(join(root, RUN, DT, '9813', '42', 'g', 'k3j2h_9x0a1b2c3d.fits'), fits());
    await writeFile(join(root, RUN, DT, '9813', '42', 'r', `${DT}_r_9813_42_u_alien_zooniverse-1.fits.transfer-tmp`), fits());

    const refs = await list(source({ pathTemplate: TEMPLATE }));
    expect(refs).toHaveLength(6);
    for (let i = 1; i < refs.length; i++) expect(refs[i].cursor > refs[i - 1].cursor).toBe(true);
    const g = refs.find((r) => r.cursor.endsWith(preservePath('g', 9813, 42)))!;
    expect(g).toEqual({
      id: prefixDatasetId(preservePath('g', 9813, 42)),
      datasetType: DT,
      run: RUN,
      dataId: { tract: 9813, patch: 42, band: 'g' },
      cursor: g.cursor,
    });
    expect(g.cursor).toMatch(/^\d{16}\//);
    expect(parsePrefixCursor(g.cursor).relativePath).toBe(preservePath('g', 9813, 42));
  });

  it('ids are stable UUIDv5s of the relative path', () => {
    const id = prefixDatasetId(preservePath('g', 9813, 42));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(prefixDatasetId(preservePath('g', 9813, 42))).toBe(id);
    expect(prefixDatasetId(preservePath('r', 9813, 42))).not.toBe(id);
  });

  it('a template may place values in the file name too; a name used twice must agree', async () => {
    await put(`${RUN}/${DT}/9813/cutouts_r_9813_p7.fits`, fits());
    await put(`${RUN}/${DT}/9813/cutouts_r_9999_p8.fits`, fits([['BAND', 'z']]));
    const refs = await list(source({ pathTemplate: '{run}/{datasetType}/{tract}/cutouts_{band}_{tract}_p{patch}.fits' }));
    const byPatch = Object.fromEntries(refs.map((r) => [r.cursor.slice(-7), r.dataId]));
    expect(byPatch['p7.fits']).toEqual({ tract: 9813, band: 'r', patch: 7 });
    // The second file disagrees with the template (tract 9813 vs 9999): header fallback.
    expect(byPatch['p8.fits']).toEqual({ band: 'z' });
  });

  it('rejects a malformed template', () => {
    expect(() => source({ pathTemplate: '{run}/{data type}/{file}' })).toThrow(ValidationError);
    expect(() => source({ pathTemplate: 'no/placeholders' })).toThrow(ValidationError);
  });

  it('without a template, reads both file-name layouts', async () => {
    await put(preservePath('g', 9813, 42), fits());
    await put(`${RUN}/${DT}/9814/43/r/${DT}_9814_43_r_hsc_rings_v1_u_alien_zooniverse-1.fits`, fits());
    const refs = await list(source());
    expect(refs.map((r) => r.dataId).sort((a, b) => Number(a.tract) - Number(b.tract))).toEqual([
      { band: 'g', tract: 9813, patch: 42 },
      { band: 'r', tract: 9814, patch: 43 },
    ]);
    expect(dataIdFromFileName(`${DT}_N921_9813_42_run.fits`, DT)).toEqual({ band: 'N921', tract: 9813, patch: 42 });
    expect(dataIdFromFileName(`other_g_9813_42.fits`, DT)).toBeUndefined();
  });

  it('falls back to BAND/FILTER, TRACT and PATCH in the FITS primary header', async () => {
    await put(`${RUN}/${DT}/batch-1/cutout-001.fits`, fits([['BAND', 'r'], ['TRACT', 9813], ['PATCH', 7]]));
    await put(`${RUN}/${DT}/batch-1/cutout-002.fits`, fits([['FILTER', 'i'], ['TRACT', '9813'], ['PATCH', 8]]));
    // A header longer than one block.
    const long: [string, string | number][] = Array.from({ length: 60 }, (_, i) => [`KEY${i}`, i]);
    await put(`${RUN}/${DT}/batch-1/cutout-003.fits`, fits([...long, ['BAND', 'g'], ['TRACT', 1], ['PATCH', 2]]));
    const refs = await list(source({ pathTemplate: TEMPLATE }));
    const ids = Object.fromEntries(refs.map((r) => [r.cursor.slice(-15), r.dataId]));
    expect(ids['cutout-001.fits']).toEqual({ band: 'r', tract: 9813, patch: 7 });
    expect(ids['cutout-002.fits']).toEqual({ band: 'i', tract: 9813, patch: 8 });
    expect(ids['cutout-003.fits']).toEqual({ band: 'g', tract: 1, patch: 2 });
  });

  it('after a cursor, lists only files that arrived since', async () => {
    await put(preservePath('g', 9813, 42), fits());
    await put(preservePath('r', 9813, 42), fits());
    const src = source({ pathTemplate: TEMPLATE });
    const first = await list(src);
    expect(first).toHaveLength(2);
    const cursor = maxCursor(first);
    expect(await list(src, cursor)).toEqual([]);

    await sleep(20);
    await put(preservePath('i', 9813, 42), fits());
    const second = await list(src, cursor);
    expect(second.map((r) => r.dataId.band)).toEqual(['i']);
    expect(second[0].cursor > cursor).toBe(true);
  });

  it('a file copied in with an old mtime (cp -p, rsync -t) still counts as new', async () => {
    await put(preservePath('g', 9813, 42), fits());
    const src = source();
    const cursor = maxCursor(await list(src));
    await sleep(20);
    const abs = await put(preservePath('z', 9813, 42), fits());
    await utimes(abs, new Date('2020-01-01'), new Date('2020-01-01'));
    expect((await list(src, cursor)).map((r) => r.dataId.band)).toEqual(['z']);
  });

  it('re-lists files inside the lookback window (at-least-once; the caller drops known ids)', async () => {
    await put(preservePath('g', 9813, 42), fits());
    const withLookback = source({ lookbackMs: 60_000 });
    const refs = await list(withLookback);
    expect(await list(withLookback, maxCursor(refs))).toHaveLength(1);
  });

  it('refuses a collection that is not there, and a cursor of another source', async () => {
    await put(preservePath('g', 9813, 42), fits());
    const e = await failure(list(source(), undefined, 'u/alien/not-retrieved'));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain("'u/alien/not-retrieved'");
    await expect(list(source(), '2026-01-01T00:00:00.000Z/6f0c2f0e-8a8b-4b7e-9a51-3d2f7f1c9a10')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('RetrieveArtifactsSource confinement', () => {
  it.each(['../outside', 'u/../../etc', '/etc', 'u/./x', 'u//x', 'a\\b'])('refuses the collection name %s', async (collection) => {
    await put(preservePath('g', 9813, 42), fits());
    const e = await failure(list(source(), undefined, collection));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
  });

  it('refuses a symlinked directory that leads outside the root', async () => {
    await put(preservePath('g', 9813, 42), fits());
    await mkdir(join(outside, 'secret'), { recursive: true });
    await writeFile(join(outside, 'secret', `${DT}_r_9813_42_x.fits`), fits());
    await symlink(join(outside, 'secret'), join(root, RUN, DT, '9813', '42', 'r'));
    const e = await failure(list(source()));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('outside the retrieve-artifacts directory');
  });

  it('refuses a symlinked file that leads outside the root, listing or fetching', async () => {
    await put(preservePath('g', 9813, 42), fits());
    const target = join(outside, 'passwd.fits');
    await writeFile(target, 'not yours');
    await symlink(target, join(root, RUN, DT, '9813', '42', 'g', `${DT}_r_9813_42_x.fits`));
    expect(await failure(list(source()))).toBeInstanceOf(UpstreamRefusedError);

    const rel = `${RUN}/${DT}/9813/42/g/${DT}_r_9813_42_x.fits`;
    const ref = { id: prefixDatasetId(rel), datasetType: DT, run: RUN, dataId: {}, cursor: `0000000000000000/${rel}` };
    const e = await failure(source().fetchArtifact('ignored', ref));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('outside');
  });

  it('follows symlinks that stay inside the root', async () => {
    await put(`shared/${DT}_g_9813_42_x.fits`, fits());
    await mkdir(join(root, RUN, DT), { recursive: true });
    await symlink(join(root, 'shared'), join(root, RUN, DT, 'linked'));
    const refs = await list(source());
    expect(refs.map((r) => r.dataId)).toEqual([{ band: 'g', tract: 9813, patch: 42 }]);
    const art = await source().fetchArtifact('ignored', refs[0]);
    expect(art.size).toBe(2880);
  });

  it('refuses refs whose path climbs out, or whose id does not match their path', async () => {
    await writeFile(join(outside, 'x.fits'), fits());
    const climb = `../${outside.split('/').pop()}/x.fits`;
    const e1 = await failure(source().fetchArtifact('ignored', { id: prefixDatasetId(climb), datasetType: DT, run: RUN, dataId: {}, cursor: `0000000000000000/${climb}` }));
    expect(e1).toBeInstanceOf(UpstreamRefusedError);

    await put(preservePath('g', 9813, 42), fits());
    const [ref] = await list(source());
    const forged = { ...ref, cursor: ref.cursor.replace('/g/', '/r/') };
    const e2 = await failure(source().fetchArtifact('ignored', forged));
    expect(e2).toBeInstanceOf(UpstreamRefusedError);
    expect(e2.message).toContain('does not match its path');
  });
});

describe('RetrieveArtifactsSource.fetchArtifact', () => {
  it('returns the bytes, relative path, size and sha256', async () => {
    const bytes = new Uint8Array([...fits([['BAND', 'g']]), ...new Uint8Array(2880).fill(7)]);
    await put(preservePath('g', 9813, 42), bytes);
    const [ref] = await list(source());
    const art = await source().fetchArtifact('ignored', ref);
    expect(Buffer.from(art.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(art).toMatchObject({ path: preservePath('g', 9813, 42), size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  });

  it('refuses a file over the size cap', async () => {
    await put(preservePath('g', 9813, 42), new Uint8Array(10_000));
    const [ref] = await list(source());
    const e = await failure(source({ maxArtifactBytes: 5000 }).fetchArtifact('ignored', ref));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('5000-byte limit');
  });

  it('refuses a file that has gone away since it was listed', async () => {
    const abs = await put(preservePath('g', 9813, 42), fits());
    const [ref] = await list(source());
    await rm(abs);
    expect(await failure(source().fetchArtifact('ignored', ref))).toBeInstanceOf(UpstreamRefusedError);
  });
});

describe('retrieve-artifacts --zip archives', () => {
  const ids = {
    g: '3f452f1d-b8a5-5202-8190-4e723004a6ba',
    r: '5d32ede2-f2ca-5d3b-b900-bba4a00c3bf9',
    foreign: 'd24d9a3c-1004-42e7-88bb-a38ebf364084',
    part: 'ac08556d-d6ab-43c5-9307-3bb7132548fd',
  };
  const fileInfo = (path: string, component: string | null = null) => ({
    formatter: 'lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter',
    path,
    storage_class: 'Stamps',
    component,
    checksum: null,
    file_size: 2880,
  });
  /** The shape of daf_butler's ZipIndex (tests/data/zip_index.json). */
  const index = {
    index_version: 'V1',
    refs: {
      container_version: 'V1',
      universe_version: 7,
      universe_namespace: 'daf_butler',
      dataset_types: { [DT]: { name: DT, storageClass: 'Stamps', dimensions: ['band', 'skymap', 'tract', 'patch'], parentStorageClass: null, isCalibration: false } },
      compact_refs: {
        [ids.g]: { dataset_type_name: DT, run: RUN, data_id: { band: 'g', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 } },
        [ids.r]: { dataset_type_name: DT, run: RUN, data_id: { band: 'r', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 } },
        [ids.foreign]: { dataset_type_name: DT, run: 'u/someone/else', data_id: { band: 'i', skymap: 'hsc_rings_v1', tract: 1, patch: 1 } },
        [ids.part]: { dataset_type_name: DT, run: RUN, data_id: { band: 'z', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 } },
      },
    },
    artifact_map: {
      '3f452f1d-zooniverse_cutout_g.fits': { info: fileInfo('a/g.fits'), ids: [ids.g] },
      '5d32ede2-zooniverse_cutout_r.fits': { info: fileInfo('a/r.fits'), ids: [ids.r] },
      'd24d9a3c-zooniverse_cutout_i.fits': { info: fileInfo('a/i.fits'), ids: [ids.foreign] },
      'ac08556d-zooniverse_cutout_z.image.fits': { info: fileInfo('a/z.fits', 'image'), ids: [ids.part] },
    },
  };
  const member = (band: string) => fits([['BAND', band], ['MEMBER', band]]);

  async function writeArchive(name = '0b4d2c1e-5f6a-5b7c-8d9e-0f1a2b3c4d5e.zip'): Promise<string> {
    const zip = makeZip([
      { name: '_butler_zip_index.json', data: new TextEncoder().encode(JSON.stringify(index)), deflate: true },
      ...Object.keys(index.artifact_map).map((n) => ({ name: n, data: member(n.split('_').pop()!.split('.')[0]), deflate: true })),
    ]);
    await put(name, zip);
    return name;
  }

  it('yields one ref per indexed member of this run and dataset type, with the index dataId', async () => {
    const name = await writeArchive();
    const refs = await list(source());
    expect(refs.map((r) => r.dataId)).toEqual([
      { band: 'g', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 },
      { band: 'r', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 },
    ]);
    const rel = `${name}#zip-path=3f452f1d-zooniverse_cutout_g.fits`;
    expect(refs[0].id).toBe(prefixDatasetId(rel));
    expect(parsePrefixCursor(refs[0].cursor).relativePath).toBe(rel);
    // Another run's members belong to that run's collection.
    expect(await list(source(), undefined, 'u/someone/else')).toHaveLength(1);
  });

  it('fetches a member out of its archive', async () => {
    await writeArchive();
    const [g] = await list(source());
    const art = await source().fetchArtifact('ignored', g);
    expect(Buffer.from(art.bytes).equals(Buffer.from(member('g')))).toBe(true);
    expect(art.path.endsWith('zooniverse_cutout_g.fits')).toBe(true);
    expect(art.sha256).toBe(createHash('sha256').update(member('g')).digest('hex'));
  });

  it('a zip inside the collection tree without an index is one dataset', async () => {
    const rel = `${RUN}/${DT}/9813/42/g/${DT}_g_9813_42_u_alien_zooniverse-1.zip`;
    const zip = makeZip([{ name: 'obj_0001.png', data: new Uint8Array(50) }]);
    await put(rel, zip);
    const refs = await list(source());
    expect(refs.map((r) => [r.dataId, parsePrefixCursor(r.cursor).relativePath])).toEqual([[{ band: 'g', tract: 9813, patch: 42 }, rel]]);
    const art = await source().fetchArtifact('ignored', refs[0]);
    expect(Buffer.from(art.bytes).equals(Buffer.from(zip))).toBe(true);
  });

  it('skips a top-level archive it cannot read yet (--zip writes in place), and lists it once complete', async () => {
    await put(preservePath('g', 9813, 42), fits());
    const name = await writeArchive();
    const whole = await import('node:fs/promises').then((fs) => fs.readFile(join(root, name)));
    await writeFile(join(root, name), whole.subarray(0, whole.length - 40));
    const src = source();
    const first = await list(src);
    expect(first.map((r) => r.dataId.band)).toEqual(['g']);
    await sleep(20);
    await writeFile(join(root, name), whole);
    const second = await list(src, maxCursor(first));
    expect(second.map((r) => r.dataId.band)).toEqual(['g', 'r']);
    expect(second.every((r) => r.cursor.includes('#zip-path='))).toBe(true);
  });

  it('refuses a member that inflates past its declared size', async () => {
    const name = await writeArchive();
    const [g] = await list(source());
    // Lie about the member's size in the central directory: 2880 -> 100.
    const zip = makeZip([
      { name: '_butler_zip_index.json', data: new TextEncoder().encode(JSON.stringify(index)), deflate: true },
      { name: '3f452f1d-zooniverse_cutout_g.fits', data: member('g'), deflate: true },
    ]);
    const buf = Buffer.from(zip);
    const cd = buf.lastIndexOf(Buffer.from('3f452f1d-zooniverse_cutout_g.fits')) - 46;
    buf.writeUInt32LE(100, cd + 24);
    await put(name, buf);
    const bomb = await failure(source().fetchArtifact('ignored', g));
    expect(bomb).toBeInstanceOf(UpstreamRefusedError);
    expect(bomb.message).toMatch(/inflates past 100 bytes although it declares 100/);
  });
});
