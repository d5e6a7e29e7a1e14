import type { Config } from '../config/config.js';
import type { UpstreamRetryNotice } from '../adapters/http/retry.js';
import { PanoptesZooniverseEffects } from '../adapters/panoptes/zooniverse-effects.js';
import type { ZooniverseEffects } from '../domain/ports/zooniverse-effects.js';
import { SOFTWARE } from '../imaging/version.js';

/**
 * The results loop's effects on Zooniverse (retire, add to / remove from a
 * set), with the same Panoptes credentials as the upload client; absent
 * without them (effects then stay recorded as intents).
 */
export function buildZooniverseEffects(config: Config, onRetry?: (n: UpstreamRetryNotice) => void): ZooniverseEffects | undefined {
  if (!config.ZOONIVERSE_CLIENT_ID || !config.ZOONIVERSE_CLIENT_SECRET) return undefined;
  return new PanoptesZooniverseEffects({ baseUrl: config.ZOONIVERSE_BASE_URL, clientId: config.ZOONIVERSE_CLIENT_ID, clientSecret: config.ZOONIVERSE_CLIENT_SECRET, userAgent: SOFTWARE, onRetry });
}
