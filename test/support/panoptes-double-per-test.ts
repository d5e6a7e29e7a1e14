import { afterEach, beforeEach } from 'vitest';
import { PanoptesServerDouble, type PanoptesDoubleOptions } from './panoptes-server.js';

/**
 * A fresh double for every test of the file (started before each, closed
 * after); `restart` swaps it for one with other faults mid-test.
 */
export function panoptesDoublePerTest(): { readonly server: PanoptesServerDouble; restart(opts: PanoptesDoubleOptions): Promise<void> } {
  let server: PanoptesServerDouble;
  beforeEach(async () => {
    server = await PanoptesServerDouble.start();
  });
  afterEach(async () => {
    await server.close();
  });
  return {
    get server() {
      return server;
    },
    async restart(opts) {
      await server.close();
      server = await PanoptesServerDouble.start(opts);
    },
  };
}
