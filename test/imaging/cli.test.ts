import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import pngjs from 'pngjs';

const ROOT = join(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/fits');

/** Runs the real CLI entry (sources through tsx), as a user would, without a terminal. */
function bridge(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('bridge convert', () => {
  it('converts a band set, prints a JSON summary and writes stamps.jsonl (exit 0)', async () => {
    const out = join(tmp, 'ok');
    const r = bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`, '--band', `r=${FIX}/stamps_r.fits`, '--band', `i=${FIX}/stamps_i.fits`, '--out', out, '--workers', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 3, converted: 3, failed: 0 });
    const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(Object.keys(lines[0]).sort()).toEqual(['bytes', 'dec', 'file', 'height', 'index', 'ra', 'wcs', 'width']);
    expect(lines[2]).toMatchObject({ file: 'stamp-00002.png', index: 2, wcs: 'position', width: 31, height: 25 });
    const png = pngjs.PNG.sync.read(await readFile(join(out, lines[2].file)));
    expect([png.width, png.height]).toEqual([31, 25]);
    expect(lines[2].bytes).toBe((await readFile(join(out, lines[2].file))).length);
  });

  it('explicit --stretch/--q/--minimum select the Lupton mapping; --rgb picks channels; one band is grey', async () => {
    const out = join(tmp, 'grey');
    const r = bridge(['convert', '--band', `r=${FIX}/stamps_r.fits`, '--out', out, '--stretch', '40', '--q', '8', '--minimum', '0', '--level', '9']);
    expect(r.code).toBe(0);
    const png = pngjs.PNG.sync.read(await readFile(join(out, 'stamp-00000.png')));
    // grey: R = G = B everywhere
    for (let i = 0; i < png.data.length; i += 4) expect(png.data[i]).toBe(png.data[i + 2]);
    const bad = bridge(['convert', '--band', `r=${FIX}/stamps_r.fits`, '--out', out, '--stretch', '4', '--preset', 'linear']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot be combined with --preset linear/);
  });

  it('a corrupt stamp gives exit 3 (partial), naming file, HDU and stamp; the rest are written', async () => {
    const bytes = new Uint8Array(await readFile(join(FIX, 'stamps_gz_g.fits')));
    // Damage the second IMAGE's compressed data.
    const text = Buffer.from(bytes).toString('latin1');
    const hdr = text.indexOf("EXTVER  =                    2", text.indexOf("EXTNAME = 'IMAGE'", text.indexOf("EXTNAME = 'IMAGE'") + 1) - 2880 * 2);
    const dataStart = Math.ceil((text.indexOf('END     ', hdr) + 80) / 2880) * 2880;
    for (let k = 0; k < 64; k++) bytes[dataStart + 29 * 16 + 10 + k] ^= 0xa5;
    const damaged = join(tmp, 'damaged_g.fits');
    await writeFile(damaged, bytes);
    const out = join(tmp, 'partial');
    const r = bridge(['convert', '--band', `g=${damaged}`, '--band', `r=${FIX}/stamps_gz_r.fits`, '--band', `i=${FIX}/stamps_gz_i.fits`, '--out', out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/error: stamp 1: .*damaged_g\.fits, HDU \d+ \(IMAGE,2\): tile \d+/);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 2, converted: 1, failed: 1 });
  });

  it('a Stamps set short of its N_STAMPS gives exit 3 (partial), naming the missing stamps and the file', async () => {
    // Every band says N_STAMPS = 5 but holds 3 stamps.
    const paths: string[] = [];
    for (const b of ['g', 'r', 'i']) {
      const text = (await readFile(join(FIX, `stamps_${b}.fits`))).toString('latin1');
      const at = text.indexOf('N_STAMPS=');
      const path = join(tmp, `short_${b}.fits`);
      await writeFile(path, Buffer.from(text.slice(0, at) + 'N_STAMPS=                    5'.padEnd(80) + text.slice(at + 80), 'latin1'));
      paths.push(`${b}=${path}`);
    }
    const out = join(tmp, 'short');
    const r = bridge(['convert', ...paths.flatMap((p) => ['--band', p]), '--out', out, '--workers', '0']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/warning: \S*short_g\.fits: stamps 4-5 of 5 missing: N_STAMPS says 5 but the file holds 3 IMAGE extensions/);
    expect(r.stderr).toMatch(/error: stamp 3: missing from \S*short_i\.fits: N_STAMPS says 5 but the file holds 3 IMAGE extensions \(no IMAGE with EXTVER 4\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 5, converted: 3, failed: 2 });
    const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
  });

  it('trailing bytes after the last HDU: converted (exit 0) with a warning naming the file', async () => {
    const path = join(tmp, 'trailing_r.fits');
    await writeFile(path, Buffer.concat([await readFile(join(FIX, 'stamps_r.fits')), Buffer.from('x'.repeat(1234))]));
    const r = bridge(['convert', '--band', `r=${path}`, '--out', join(tmp, 'trailing'), '--workers', '0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: \S*trailing_r\.fits: ignored 1234 trailing bytes after the last HDU/);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 3, converted: 3, failed: 0 });
  });

  it('unreadable input: exit 1 with the file named; usage errors: exit 2', async () => {
    const notFits = join(tmp, 'not.fits');
    await writeFile(notFits, 'hello');
    const r = bridge(['convert', '--band', `g=${notFits}`, '--out', join(tmp, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not\.fits/);
    expect(bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`]).code).toBe(2);
    expect(bridge(['convert', '--band', 'nonsense', '--out', 'x']).code).toBe(2);
    const unknown = bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`, '--band', `H=${FIX}/stamps_r.fits`, '--band', `r=${FIX}/stamps_r.fits`, '--out', join(tmp, 'y')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown band "H"/);
  });

  it('two bands make a colour image with a synthesised green, recorded in the provenance', async () => {
    const out = join(tmp, 'two');
    const r = bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`, '--band', `i=${FIX}/stamps_i.fits`, '--out', out]);
    expect(r.code).toBe(0);
    const { readTextChunks } = await import('../../src/imaging/png/png-chunks.js');
    const prov = JSON.parse(readTextChunks(new Uint8Array(await readFile(join(out, 'stamp-00000.png'))))['bridge:provenance']);
    expect(prov.channels).toEqual({ R: 'i', G: 'mean of i and g', B: 'g' });
  });

  it('--zip passes PNG renderings through with provenance and refuses traversal', async () => {
    const png = new pngjs.PNG({ width: 8, height: 6 });
    png.data.fill(128);
    const zip = new JSZip();
    zip.file('zooniverse_cutout_g_9813_42_2.png', pngjs.PNG.sync.write(png));
    zip.file('zooniverse_cutout_g_9813_42_10.png', pngjs.PNG.sync.write(png));
    zip.file('_butler_zip_index.json', '{}');
    const path = join(tmp, 'cutouts.zip');
    await writeFile(path, await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
    const out = join(tmp, 'zipout');
    const r = bridge(['convert', '--zip', path, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/_butler_zip_index\.json skipped/);
    const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.index)).toEqual([0, 1]);
    expect(lines[0]).toMatchObject({ wcs: 'none', ra: null, width: 8, height: 6 });

    const evil = new JSZip();
    evil.file('../../etc/evil.png', pngjs.PNG.sync.write(png));
    const evilPath = join(tmp, 'evil.zip');
    await writeFile(evilPath, await evil.generateAsync({ type: 'nodebuffer' }));
    const bad = bridge(['convert', '--zip', evilPath, '--out', join(tmp, 'evilout')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/evil\.zip.*path traversal/);
  });
});

describe('bridge inspect', () => {
  it('reports HDUs, compression, stamps and positions as JSON', () => {
    const r = bridge(['inspect', `${FIX}/stamps_gz_g.fits`, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.cutouts).toMatchObject({ kind: 'stamps', count: 2 });
    expect(j.cutouts.stamps[1].position.ra).toBeCloseTo(0.0004, 9);
    const image = j.hdus.find((h: { extname: string }) => h.extname === 'IMAGE');
    expect(image).toMatchObject({ kind: 'COMPRESSED_IMAGE', dims: [33, 29], compression: { type: 'GZIP_2' } });
  });

  it('summarises a rotated WCS', () => {
    const j = JSON.parse(bridge(['inspect', `${FIX}/exposure_rot120.fits`]).stdout);
    const wcs = j.hdus[1].wcs;
    expect(wcs.rotationDeg).toBeCloseTo(120, 6);
    expect(wcs.scaleArcsec[0]).toBeCloseTo(-0.2, 9);
  });
});
