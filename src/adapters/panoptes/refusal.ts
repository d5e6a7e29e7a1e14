import type { PanoptesRefusal } from '../../domain/ports/panoptes-client.js';

/**
 * The reason a PanoptesRefused carries, from the status Panoptes (or its
 * token endpoint) refused with. The domain decides on the reason (a token
 * problem is asked again, a refused record fails alone, a forbidden import
 * falls back to creating subjects), so this is the one place that reads the
 * number.
 */
export function refusalOf(status: number): PanoptesRefusal {
  switch (status) {
    case 401:
      return 'credentials';
    case 403:
      return 'forbidden';
    case 400:
      return 'invalid';
    case 422:
      return 'unprocessable';
    default:
      return 'other';
  }
}
