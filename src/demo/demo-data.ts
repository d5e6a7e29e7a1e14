import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { syntheticStamp, SYNTHETIC_BANDS } from '../imaging/synthetic.js';
import { writeStampsFile } from '../imaging/fits/stamps-writer.js';

export interface DemoLayout {
  owner: string;
  run: string;
  datasetType: string;
  tracts: number[];
  patches: number[];
  stampsPerFile: number;
  size: number;
  /** Data release the demo collection claims (a policy fact). */
  /** Written as DATE-OBS in each file's primary header. */
  observedAt?: Date;
}

export const DEMO_LAYOUT: DemoLayout = {
  owner: 'demo',
  run: 'u/demo/zooniverse-demo',
  datasetType: 'zooniverse_cutout',
  tracts: [9813, 9814, 9815],
  patches: [42, 43],
  stampsPerFile: 20,
  size: 96,
  // A public (simulated) release: the Rubin policy then needs no data rights.
};

/**
 * Writes what `butler retrieve-artifacts --preserve-path` would leave for a
 * PI's Stamps outputs: <run>/<datasetType>/<tract>/<patch>/<band>/<file>,
 * GZIP_2 tile-compressed like Butler-stored images, positions as RA_DEG/DEC_DEG.
 * Returns the number of files written.
 */
export async function writeDemoArtifacts(root: string, l: DemoLayout = DEMO_LAYOUT): Promise<number> {
  let files = 0;
  const runPath = l.run.replace(/\//g, '_');
  for (const tract of l.tracts) {
    for (const patch of l.patches) {
      const seed = tract * 1000 + patch;
      const stamps = Array.from({ length: l.stampsPerFile }, (_, k) => syntheticStamp(l.size, l.size, seed * 100 + k));
      // A patch of sky near the COSMOS field, one degree per tract.
      const positions = stamps.map((_, k) => ({ ra: 150 + (tract - l.tracts[0]) + (k % 5) * 0.01, dec: 2.2 + Math.floor(k / 5) * 0.01 }));
      for (const [b, band] of SYNTHETIC_BANDS.entries()) {
        const dir = join(root, l.run, l.datasetType, String(tract), String(patch), band);
        await mkdir(dir, { recursive: true });
        const file = join(dir, `${l.datasetType}_${band}_${tract}_${patch}_${runPath}.fits`);
        await writeStampsFile(file, l.stampsPerFile, (k) => ({ plane: stamps[k][b] }), positions, { compress: 'GZIP_2', primaryCards: l.observedAt ? [['DATE-OBS', l.observedAt.toISOString().replace('Z', '')]] : [] });
        files++;
      }
    }
  }
  return files;
}
