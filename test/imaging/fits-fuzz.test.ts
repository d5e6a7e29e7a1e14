import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { FitsCutouts } from '../../src/imaging/cutouts/fits-cutouts.js';
import { readImage } from '../../src/imaging/fits/image-reader.js';
import { ImagingError } from '../../src/imaging/types.js';
import { formatCard } from '../../src/imaging/fits/header.js';

const DIR = join(import.meta.dirname, '../fixtures/fits');
const files = readdirSync(DIR).filter((f) => f.endsWith('.fits'));
const LIMITS = { maxPixels: 4_000_000 };

/** Reads everything a converter would; returns normally or throws. */
async function readAll(bytes: Uint8Array, name: string): Promise<void> {
  const f = await FitsFile.fromBytes(bytes, name);
  for (const h of f.hdus) {
    if (h.compressed || ((h.kind === 'IMAGE' || h.kind === 'PRIMARY') && h.dataBytes > 0)) await readImage(f, h, LIMITS);
  }
  const c = FitsCutouts.fromFile(f, LIMITS);
  for (let i = 0; i < c.count; i++) await c.read(i);
}

async function onlyClearErrors(bytes: Uint8Array, name: string): Promise<void> {
  const before = process.memoryUsage().arrayBuffers;
  try {
    await readAll(bytes, name);
  } catch (e) {
    if (!(e instanceof ImagingError)) throw new Error(`${name}: expected an ImagingError, got ${(e as Error).name}: ${(e as Error).message}`);
    expect(e.message).toContain(name);
  }
  // Nothing should allocate far beyond the input and the pixel cap.
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(200 * 1024 * 1024);
}

describe('hostile and damaged FITS never crash, hang or over-allocate', () => {
  it('has fixtures to damage', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const file of files) {
    const good = new Uint8Array(readFileSync(join(DIR, file)));

    it(`${file}: every truncation gives a clear error`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (cut) => {
          await onlyClearErrors(good.slice(0, cut), `${file}@${cut}`);
        }),
        { numRuns: 40 },
      );
    });

    it(`${file}: bit flips give a result or a clear error`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }), async (flips) => {
          const bad = good.slice();
          for (const [at, bit] of flips) bad[at] ^= 1 << bit;
          await onlyClearErrors(bad, `${file}~flip`);
        }),
        { numRuns: 60 },
      );
    });

    it(`${file}: lying size keywords give a clear error`, async () => {
      const text = Buffer.from(good).toString('latin1');
      const keys: { key: string; start: number }[] = [];
      for (let at = 0; at + 80 <= text.length; at += 80) {
        const m = /^(Z?NAXIS[12]?|ZTILE[12]|PCOUNT|THEAP|TFIELDS|Z?BITPIX) *= /.exec(text.slice(at, at + 80));
        if (m) keys.push({ key: m[1], start: at });
      }
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...(keys.length ? keys : [null])),
          fc.constantFrom(0, 1, -1, 7, 2 ** 31 - 1, 999999999, 65),
          async (m, value) => {
            if (!m) return;
            // Replace the whole 80-column card, keeping every other byte in place.
            const bad = Buffer.from(text.slice(0, m.start) + formatCard(m.key, value) + text.slice(m.start + 80), 'latin1');
            await onlyClearErrors(new Uint8Array(bad), `${file}~${m.key}=${value}`);
          },
        ),
        { numRuns: 30 },
      );
    });
  }
});
