import { readFileSync } from 'node:fs';

/** Read once from package.json so the provenance always names the running version. */
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export const SOFTWARE = `${pkg.name} ${pkg.version}`;
