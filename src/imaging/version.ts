import { createRequire } from 'node:module';

/*
 * Read once from package.json so the provenance always names the running
 * version. The imaging core stands alone (it is also the CLI's converter),
 * so it finds package.json itself: the nearest one above this file, from
 * src/imaging and from dist/src/imaging alike.
 *
 * require() rather than fs: every `bridge` run loads this file, and an ES
 * import of node:fs builds the module's export facade, which touches fs's
 * lazy stream getters and loads Node's stream modules (~4 ms of
 * `bridge --help`, issue 16's start-up target). The CommonJS loader reads
 * JSON with what Node has already loaded.
 */
const require = createRequire(import.meta.url);

function nearestPackageJson(): { name: string; version: string } {
  for (let depth = 1; depth <= 16; depth++) {
    try {
      return require(`${'../'.repeat(depth)}package.json`) as { name: string; version: string };
    } catch (e) {
      // Only "not here" moves on: a package.json that is there but unreadable is an error to see.
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error('version: no package.json above src/imaging');
}

const pkg = nearestPackageJson();

export const SOFTWARE = `${pkg.name} ${pkg.version}`;
