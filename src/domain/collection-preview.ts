import type { Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ButlerSource, DatasetRef } from './ports/butler-source.js';
import type { Caller } from './caller.js';
import { checkRegistration, type Registration } from './collections.js';
import { inRegisteredRun } from './pipeline.js';
import { UpstreamRefusedError, ValidationError } from './errors.js';
import { openBand } from '../imaging/convert-bands.js';
import { convertStamp, planStamps, DEFAULT_CONVERT_OPTIONS, type ChannelSource } from '../imaging/convert.js';
import type { ColourOptions, ColourPreset } from '../imaging/colour/presets.js';

/**
 * A look at a collection before it is registered: a few stamps of one band
 * set, read from the same source the poller and retriever would use (the
 * configured Butler, or a retrieve-artifacts prefix under the artifact
 * root), rendered in every colour preset so the PI can pick one. Nothing is
 * stored, nothing is queued; the same rules as a registration decide who
 * may look (u/<own name>/ or a delegated prefix).
 */

export interface PreviewDeps {
  repos: Repositories;
  artifactRoot: string;
  /** The source a collection of this kind reads from (the composition root's, as for the pipeline). */
  sourceFor: (c: Pick<Collection, 'source_kind' | 'source_root'>) => ButlerSource;
  /** Every preset to render in (COLOUR_PRESETS). */
  presets: readonly string[];
}

export type PreviewRequest = Pick<Registration, 'repository' | 'collection' | 'sourceKind' | 'sourceRoot' | 'datasetType' | 'bands' | 'rgb'>;

export interface PreviewRendering {
  preset: string;
  /** PNG bytes, or null with `error` when this preset could not render the stamp. */
  png: Uint8Array | null;
  width: number;
  height: number;
  error?: string;
}

export interface PreviewStamp {
  index: number;
  renderings: PreviewRendering[];
}

export interface CollectionPreview {
  collection: string;
  datasetType: string;
  /** Bands in channel order (R, G, B). */
  channels: string[];
  /** The datasets the stamps come from, in channel order. */
  datasets: { id: string; band: string; dataId: Record<string, string | number> }[];
  /** How many datasets were looked at before a complete band set was found. */
  datasetsSeen: number;
  /** Stamps in the band set; `stamps` holds the first few. */
  stampsInSet: number;
  stamps: PreviewStamp[];
}

/** Stamps rendered per preset: enough to judge a preset, small enough to answer quickly. */
export const PREVIEW_STAMPS = 3;
/** Datasets listed at most while looking for a complete band set. */
const MAX_LISTED = 500;
/** Longest side of a preview image (pixels). */
const PREVIEW_SIDE = 160;

function bandless(dataId: Record<string, string | number>): string {
  return JSON.stringify(Object.keys(dataId).filter((k) => k !== 'band').sort().map((k) => [k, dataId[k]]));
}

function describe(dataId: Record<string, string | number>): string {
  return Object.entries(dataId).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** Finds the first band set that has every channel band, listing at most MAX_LISTED datasets. */
async function firstCompleteSet(source: ButlerSource, r: PreviewRequest, name: string, channels: string[]): Promise<{ refs: DatasetRef[]; seen: number; bandsSeen: Set<string> }> {
  const groups = new Map<string, Map<string, DatasetRef>>();
  const bandsSeen = new Set<string>();
  let seen = 0;
  try {
    for await (const ref of source.listDatasets({ repository: r.repository, collection: name, datasetType: r.datasetType })) {
      if (!inRegisteredRun(ref.run, name)) continue;
      seen++;
      const band = String(ref.dataId.band ?? '');
      bandsSeen.add(band);
      const key = bandless(ref.dataId);
      const g = groups.get(key) ?? new Map<string, DatasetRef>();
      groups.set(key, g);
      if (!g.has(band)) g.set(band, ref);
      if (channels.every((b) => g.has(b))) return { refs: channels.map((b) => g.get(b)!), seen, bandsSeen };
      if (seen >= MAX_LISTED) break;
    }
  } catch (e) {
    if (e instanceof UpstreamRefusedError) throw new UpstreamRefusedError(`The collection cannot be read: ${e.message}`);
    throw e;
  }
  if (!seen) {
    throw new ValidationError(`no datasets of type ${r.datasetType} were found in ${name} (${r.sourceKind === 'prefix' ? 'in the retrieve-artifacts directory' : `in Butler repository ${r.repository}`}): check the collection name and the dataset type`, { field: 'collection' });
  }
  const have = [...bandsSeen].filter(Boolean).sort().join(', ') || 'none';
  throw new ValidationError(`${seen} datasets were found, but no set of them has every band ${channels.join(', ')} (bands found: ${have}): choose the bands the collection has`, { field: 'bands' });
}

/** Reads a few stamps of the collection and renders each in every preset. Stores nothing. */
export async function previewCollection(d: PreviewDeps, who: Caller, r: PreviewRequest): Promise<CollectionPreview> {
  const { name, sourceRoot, rgb } = await checkRegistration(d, who, r);
  const source = d.sourceFor({ source_kind: r.sourceKind, source_root: sourceRoot });
  const { refs, seen } = await firstCompleteSet(source, r, name, rgb);

  const opened: ChannelSource[] = [];
  try {
    for (const [i, ref] of refs.entries()) {
      let bytes: Uint8Array;
      let path: string;
      try {
        ({ bytes, path } = await source.fetchArtifact(r.repository, ref));
      } catch (e) {
        if (e instanceof UpstreamRefusedError) throw new UpstreamRefusedError(`The file of ${r.datasetType} ${describe(ref.dataId)} cannot be read: ${e.message}`);
        throw e;
      }
      if (path.toLowerCase().endsWith('.zip')) {
        throw new UpstreamRefusedError(`${r.datasetType} ${describe(ref.dataId)} is a ZIP of ready-made images: they are published as they are, so there is no colour preset to choose`);
      }
      try {
        opened.push({ band: rgb[i], cutouts: await openBand({ band: rgb[i], bytes, name: path.split('/').pop() ?? `${rgb[i]}.fits` }) });
      } catch (e) {
        throw new UpstreamRefusedError(`${path} is not a FITS cutout file the bridge can read: ${(e as Error).message}`);
      }
    }
    const { total, missing } = planStamps(opened);
    const indices = Array.from({ length: total }, (_, i) => i).filter((i) => !missing.has(i)).slice(0, PREVIEW_STAMPS);
    if (!indices.length) throw new UpstreamRefusedError(`the band set ${describe(refs[0].dataId)} holds no stamp that every band has`);
    const stamps: PreviewStamp[] = [];
    for (const index of indices) {
      const renderings: PreviewRendering[] = [];
      for (const preset of d.presets) {
        const colour: ColourOptions = { preset: preset as ColourPreset };
        try {
          const out = await convertStamp(opened, index, { ...DEFAULT_CONVERT_OPTIONS, level: 6, maxSide: PREVIEW_SIDE, colour });
          renderings.push({ preset, png: out.png, width: out.record.width, height: out.record.height });
        } catch (e) {
          renderings.push({ preset, png: null, width: 0, height: 0, error: (e as Error).message });
        }
      }
      stamps.push({ index, renderings });
    }
    return {
      collection: name,
      datasetType: r.datasetType,
      channels: rgb,
      datasets: refs.map((ref, i) => ({ id: ref.id, band: rgb[i], dataId: ref.dataId })),
      datasetsSeen: seen,
      stampsInSet: total,
      stamps,
    };
  } finally {
    await Promise.all(opened.map((o) => o.cutouts.close()));
  }
}
