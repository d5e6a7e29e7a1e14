import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root directory (where package.json, policies/ and ui/ are).
 * Found by walking up to package.json rather than by a fixed number of `..`,
 * because this file runs both as src/package-root.ts (tsx, vitest) and as
 * dist/src/package-root.js (the build), one level deeper.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A file or directory shipped with the package, e.g. packagePath('policies', 'rubin-default.yaml'). */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}
