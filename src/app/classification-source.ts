import type { Config } from '../config/config.js';
import type { UpstreamRetryNotice } from '../adapters/http/retry.js';
import { PanoptesClassificationSource } from '../adapters/panoptes/classification-source.js';
import type { ClassificationSource } from '../domain/ports/classification-source.js';
import { SOFTWARE } from '../imaging/version.js';

/**
 * Where the results loop reads classifications from (the project listing
 * and exports), with the same Panoptes credentials as the upload client and
 * the 'classification' scope the listing needs; absent without credentials
 * (nothing is pulled then, and the status says so).
 */
export function buildClassificationSource(config: Config, onRetry?: (n: UpstreamRetryNotice) => void): ClassificationSource | undefined {
  if (!config.ZOONIVERSE_CLIENT_ID || !config.ZOONIVERSE_CLIENT_SECRET) return undefined;
  return new PanoptesClassificationSource({ baseUrl: config.ZOONIVERSE_BASE_URL, clientId: config.ZOONIVERSE_CLIENT_ID, clientSecret: config.ZOONIVERSE_CLIENT_SECRET, userAgent: SOFTWARE, onRetry });
}
