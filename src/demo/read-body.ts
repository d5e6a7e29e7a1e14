import type { IncomingMessage } from 'node:http';

/**
 * A request's whole body as UTF-8 text, for the contract-faithful test
 * servers (the demo Panoptes server here; the Butler server, the OIDC
 * provider and the Python client's harness under test/support). With
 * `maxBytes`, a longer body destroys the request with an error.
 */
export function readBody(req: IncomingMessage, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) req.destroy(new Error('body too large'));
      else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
