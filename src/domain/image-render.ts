import type { Artifact, Image } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ObjectStore } from './ports/object-store.js';
import type { Caller } from './caller.js';
import { visibleImage } from './collections.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from './errors.js';
import { openBand } from '../imaging/convert-bands.js';
import { convertStamp, DEFAULT_CONVERT_OPTIONS, type ChannelSource } from '../imaging/convert.js';
import { COLOUR_PRESETS, type ColourPreset } from '../imaging/colour/presets.js';

/**
 * One stored image rendered again in another colour preset, for a
 * reviewer's viewer: the same stamp of the same band files (the FITS
 * artifacts still in quarantine, found through the image's dataset links),
 * the same channel order and size as stored, only the colour mapping
 * differs. Nothing is stored; whoever may see the image may see this.
 *
 * Cost is bounded: one stamp, and only images within the limits they were
 * stored under (DEFAULT_CONVERT_OPTIONS.maxBytes, and RENDER_MAX_PIXELS
 * pixels); at most RENDER_CONCURRENCY renders run at once per process, the
 * others wait their turn.
 */

export interface ImageRenderDeps {
  repos: Repositories;
  store: ObjectStore;
}

export interface RenderedImage {
  png: Uint8Array;
  width: number;
  height: number;
  preset: ColourPreset;
}

/** Largest image (width x height) rendered on demand: 4 megapixels, far above any stamp a volunteer sees. */
export const RENDER_MAX_PIXELS = 2048 * 2048;
/** Renders at once per process (each is CPU work on the request's thread). */
export const RENDER_CONCURRENCY = 2;

/** A preset name as a request gives it, checked against COLOUR_PRESETS. */
export function parsePreset(value: unknown): ColourPreset {
  if (typeof value === 'string' && (COLOUR_PRESETS as readonly string[]).includes(value)) return value as ColourPreset;
  const given = value === undefined ? 'no preset was given' : `"${String(value)}" is not a colour preset`;
  throw new ValidationError(`preset: ${given}; use one of ${COLOUR_PRESETS.join(', ')}`, { field: 'preset', presets: [...COLOUR_PRESETS] });
}

export async function renderImageInPreset(d: ImageRenderDeps, who: Caller, imageId: string, presetName: unknown): Promise<RenderedImage> {
  const preset = parsePreset(presetName);
  const img = await visibleImage(d.repos, who, imageId);
  checkRenderable(img);
  const channels = await bandFiles(d, img);
  return withSlot(async () => {
    const opened: ChannelSource[] = [];
    try {
      for (const ch of channels) opened.push({ band: ch.band, cutouts: await openBand({ band: ch.band, bytes: ch.bytes, name: ch.name }) });
      // maxSide keeps the stored size should the stamp ever have been shrunk to fit; otherwise it changes nothing.
      const out = await convertStamp(opened, img.stamp_index, { ...DEFAULT_CONVERT_OPTIONS, colour: { preset }, maxSide: Math.max(img.width, img.height) });
      if (out.record.width !== img.width || out.record.height !== img.height) {
        throw new ConflictError(`image ${img.id}: its band files now give a ${out.record.width} x ${out.record.height} stamp, but the image was stored at ${img.width} x ${img.height}`);
      }
      return { png: out.png, width: out.record.width, height: out.record.height, preset };
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new ConflictError(`image ${img.id} cannot be rendered in preset ${preset}: ${(e as Error).message}`, { preset });
    } finally {
      await Promise.all(opened.map((o) => o.cutouts.close()));
    }
  });
}

function checkRenderable(img: Image): void {
  if (img.state === 'failed' || !img.quarantine_key || img.width <= 0 || img.height <= 0) {
    throw new ConflictError(`image ${img.id} failed to convert; there is nothing to render`);
  }
  if ((img.colour as { preset?: unknown }).preset === 'as-rendered') {
    throw new ConflictError(`image ${img.id} came ready-made from a ZIP of renderings; it has no FITS bands to render in another preset`);
  }
  if (img.width * img.height > RENDER_MAX_PIXELS) {
    throw new ConflictError(`image ${img.id} is ${img.width} x ${img.height} pixels; images over ${RENDER_MAX_PIXELS} pixels are not rendered on demand`);
  }
  if (img.bytes > DEFAULT_CONVERT_OPTIONS.maxBytes) {
    throw new ConflictError(`image ${img.id} is ${img.bytes} bytes, over the ${DEFAULT_CONVERT_OPTIONS.maxBytes} bytes images are stored under; it is not rendered on demand`);
  }
}

/**
 * The image's bands, in its channel order (`bands` as stored), each the
 * artifact of its group linked to the image (image_datasets), with its bytes
 * from quarantine. Named as conversion names them (band and content hash),
 * so the PNG's provenance reads the same as the stored image's.
 */
async function bandFiles(d: ImageRenderDeps, img: Image): Promise<{ band: string; bytes: Uint8Array; name: string }[]> {
  const linked = new Set((await d.repos.images.datasetIds([img.id])).get(img.id) ?? []);
  const group = (await d.repos.artifacts.group(img.collection_id, img.group_key)).filter((a) => linked.has(a.dataset_id));
  if (!img.bands.length) throw new ConflictError(`image ${img.id} records no bands; it cannot be rendered again`);
  const out: { band: string; bytes: Uint8Array; name: string }[] = [];
  for (const band of img.bands) {
    const a: Artifact | undefined = group.find((x) => x.band === band);
    if (!a) throw new ConflictError(`image ${img.id}: the dataset of band ${band} is no longer known to the bridge; the image can only be shown as stored`, { reason: 'source_gone' });
    const gone = () => new ConflictError(`image ${img.id}: the FITS file of band ${band} (dataset ${a.dataset_id}) is no longer in quarantine; the image can only be shown as stored`, { reason: 'source_gone' });
    if (!a.object_key) throw gone();
    let bytes: Uint8Array;
    try {
      bytes = (await d.store.get('quarantine', a.object_key)).body;
    } catch (e) {
      if (e instanceof NotFoundError) throw gone();
      throw e;
    }
    out.push({ band, bytes, name: `${band}-${a.sha256}.fits` });
  }
  return out;
}

let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= RENDER_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await f();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}
