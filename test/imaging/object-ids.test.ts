import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FitsCutouts } from '../../src/imaging/cutouts/fits-cutouts.js';
import { convertStamp, DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';

/**
 * The producer's catalogue id of each stamp's object, read from the FITS
 * file as Rubin writes per-stamp values (repeated primary cards, like
 * RA_DEG) or from the stamp's own HDU, every digit of a 64-bit id kept
 * (a double would round 609782943520154621 to ...620).
 */
const BIG = ['609782943520154621', '609782943520154622', '609782943520154623'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'object-ids-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a 3-stamp file with placeholder OBJECTID cards, then puts the exact 18-digit ids into those cards' text. */
async function stampsWithIds(name: string, imageCard?: [number, string]): Promise<string> {
  const path = join(dir, name);
  const stamps = [0, 1, 2].map((s) => syntheticStamp(16, 16, 40 + s));
  await writeStampsFile(
    path,
    3,
    (i) => ({ plane: stamps[i][0], ...(imageCard && imageCard[0] === i ? { cards: [['OBJECTID', 111_111_111]] } : {}) }),
    [0, 1, 2].map((i) => ({ ra: 150 + i * 0.01, dec: 2.2 })),
    { primaryCards: [0, 1, 2].map((i) => ['OBJECTID', 900_000_000 + i]) },
  );
  let text = (await readFile(path)).toString('latin1');
  for (let i = 0; i < 3; i++) text = text.replace(String(900_000_000 + i).padStart(20), BIG[i].padStart(20));
  if (imageCard) text = text.replace('111111111'.padStart(20), imageCard[1].padStart(20));
  await writeFile(path, Buffer.from(text, 'latin1'));
  return path;
}

describe('object ids in FITS files', () => {
  it('come from repeated primary cards in stamp order, every digit kept, and reach the converted record', async () => {
    const cutouts = await FitsCutouts.open(await stampsWithIds('primary.fits'));
    try {
      expect(cutouts.warnings).toEqual([]);
      for (let i = 0; i < 3; i++) expect((await cutouts.read(i)).objectId).toBe(BIG[i]);
      const { record } = await convertStamp([{ band: 'r', cutouts }], 1, DEFAULT_CONVERT_OPTIONS);
      expect(record.objectId).toBe(BIG[1]);
    } finally {
      await cutouts.close();
    }
  });

  it("a stamp's own HDU card wins over the primary list", async () => {
    const cutouts = await FitsCutouts.open(await stampsWithIds('own.fits', [2, '42']));
    try {
      expect((await cutouts.read(0)).objectId).toBe(BIG[0]);
      expect((await cutouts.read(2)).objectId).toBe('42');
    } finally {
      await cutouts.close();
    }
  });

  it('a file without ids gives none; a list shorter than the stamps is a warning, not a failure', async () => {
    const path = join(dir, 'none.fits');
    const stamps = [0, 1].map((s) => syntheticStamp(16, 16, 50 + s));
    await writeStampsFile(path, 2, (i) => ({ plane: stamps[i][0] }), undefined, { primaryCards: [['DIAOBJID', 7]] });
    const cutouts = await FitsCutouts.open(path);
    try {
      expect(cutouts.warnings).toEqual(['1 object id cards for 2 stamps; ids beyond the shorter list are unknown']);
      expect((await cutouts.read(0)).objectId).toBe('7');
      expect((await cutouts.read(1)).objectId).toBeUndefined();
    } finally {
      await cutouts.close();
    }
  });
});
