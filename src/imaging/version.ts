import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';

/** Read once from package.json so the provenance always names the running version. */
const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { name: string; version: string };

export const SOFTWARE = `${pkg.name} ${pkg.version}`;
