import { Router } from 'express';
import type { Repositories } from '../domain/ports/repositories.js';
import type { ButlerSource } from '../domain/ports/butler-source.js';
import type { Collection } from '../domain/model.js';
import { ValidationError } from '../domain/errors.js';
import { previewCollection } from '../domain/collection-preview.js';
import { COLOUR_PRESETS } from '../imaging/colour/presets.js';
import { parseRegistration } from './collections-routes.js';
import { requireRole } from './auth.js';

export interface PreviewRoutesDeps {
  repos: Repositories;
  artifactRoot: string;
  /** The source a collection of this kind is read from; absent where the API has none (the preview then says so). */
  sourceFor?: (c: Pick<Collection, 'source_kind' | 'source_root'>) => ButlerSource;
}

/**
 * POST /collections/preview: the registration's body, validated by the same
 * schema, answered with a few stamps in every colour preset as data: URLs.
 * Nothing is stored.
 */
export function previewRoutes(d: PreviewRoutesDeps): Router {
  const r = Router();
  r.post('/collections/preview', requireRole('pi'), async (req, res) => {
    const body = parseRegistration(req.body);
    const sourceFor = d.sourceFor;
    if (!sourceFor) throw new ValidationError('this bridge cannot read collections here (no source configured)');
    const p = await previewCollection({ repos: d.repos, artifactRoot: d.artifactRoot, sourceFor, presets: COLOUR_PRESETS }, req.identity!, body);
    res.json({
      collection: p.collection,
      datasetType: p.datasetType,
      channels: p.channels,
      datasets: p.datasets,
      datasetsSeen: p.datasetsSeen,
      stampsInSet: p.stampsInSet,
      presets: [...COLOUR_PRESETS],
      stamps: p.stamps.map((s) => ({
        index: s.index,
        images: s.renderings.map((x) => ({ preset: x.preset, width: x.width, height: x.height, dataUrl: x.png ? `data:image/png;base64,${Buffer.from(x.png).toString('base64')}` : null, error: x.error ?? null })),
      })),
    });
  });
  return r;
}
