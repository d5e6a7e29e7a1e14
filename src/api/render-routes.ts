import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import { renderImageInPreset } from '../domain/image-render.js';
import { requireRole } from './auth.js';

export interface RenderRoutesDeps {
  repos: Repositories;
  store: ObjectStore;
}

/**
 * GET /images/{id}/render?preset=<name>: the image rendered again in another
 * colour preset, as PNG, for the reviewer's viewer. Whoever may see the
 * image may ask (the image routes' rule); nothing is stored, and the answer
 * may be cached privately for a few minutes.
 */
export function renderRoutes(d: RenderRoutesDeps): Router {
  const r = Router();
  r.get('/images/:id/render', requireRole('pi'), async (req, res) => {
    const id = z.string().uuid().parse(req.params.id);
    const out = await renderImageInPreset(d, req.identity!, id, req.query.preset);
    res.setHeader('Cache-Control', 'private, max-age=300');
    res.setHeader('X-Bridge-Preset', out.preset);
    res.type('image/png').send(Buffer.from(out.png.buffer, out.png.byteOffset, out.png.byteLength));
  });
  return r;
}
