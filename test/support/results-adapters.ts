import { PanoptesClassificationSource, type ClassificationSourceOptions } from '../../src/adapters/panoptes/classification-source.js';
import { PanoptesTransport, type PanoptesTransportOptions } from '../../src/adapters/panoptes/panoptes-transport.js';
import { PanoptesZooniverseEffects } from '../../src/adapters/panoptes/zooniverse-effects.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, type PanoptesServerDouble } from './panoptes-server.js';

/**
 * The results loop's Panoptes adapters against a double, sharing one
 * transport (one token) as the composition root would, with fast retries,
 * the double's clock, and the export link allowed to reach 127.0.0.1 over
 * http (production refuses both). `sleeps` records every wait asked for.
 */
export function resultsAdapters(server: PanoptesServerDouble, extra: Partial<PanoptesTransportOptions> = {}, source: ClassificationSourceOptions = {}) {
  const sleeps: number[] = [];
  const http = new PanoptesTransport({
    baseUrl: server.url,
    clientId: PANOPTES_CLIENT_ID,
    clientSecret: PANOPTES_CLIENT_SECRET,
    scope: 'public user project classification',
    baseDelayMs: 5,
    maxDelayMs: 40,
    random: () => 0.5,
    now: () => server.results.now(),
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 20)));
    },
    ...extra,
  });
  const classifications = new PanoptesClassificationSource(http, { download: { allowHttp: true, allowedHosts: ['127.0.0.1'] }, ...source });
  const effects = new PanoptesZooniverseEffects(http);
  return { http, classifications, effects, sleeps };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function text(it: AsyncIterable<Buffer>): Promise<string> {
  return Buffer.concat(await collect(it)).toString('utf8');
}
