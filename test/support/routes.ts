import type { Server } from 'node:http';

/**
 * Every endpoint an Express app answers, as `METHOD path` with the path as
 * registered (`/api/v1/collections/:id`), plus `USE path` for what is
 * mounted as a whole (the queue dashboard, static files) and regular
 * expressions as their source. Read from the running server, so a route
 * added anywhere is seen.
 */
export function endpoints(server: Server): string[] {
  const app = server.listeners('request')[0] as { router?: { stack: Layer[] } };
  const out = new Set<string>();
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const raw = layer.route?.path ?? layer.rawPath;
      const path = raw instanceof RegExp ? `${prefix}${raw.source}` : `${prefix}${raw ?? ''}`;
      if (layer.route) {
        for (const [m, on] of Object.entries(layer.route.methods ?? {})) if (on && m !== '_all') out.add(`${m.toUpperCase()} ${path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, raw === undefined || raw === '/' ? prefix : path);
      } else if (raw !== undefined && raw !== '/' && raw !== '') {
        out.add(`USE ${path}`);
      }
    }
  };
  walk(app.router?.stack ?? [], '');
  return [...out].sort();
}

interface Layer {
  rawPath?: string | RegExp;
  route?: { path: string | RegExp; methods?: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}
