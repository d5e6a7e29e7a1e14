import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Read once from package.json so the provenance always names the running
 * version. The imaging core stands alone (it is also the CLI's converter),
 * so it finds package.json itself: the nearest one above this file, from
 * src/imaging and from dist/src/imaging alike.
 */
let dir = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };

export const SOFTWARE = `${pkg.name} ${pkg.version}`;
