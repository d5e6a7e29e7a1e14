#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/src/ (and the workers to dist/workers/) by `npm ci` (the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('bridge: dist/ is missing; run `npm ci` or `npm run build` first\n');
  process.exit(70);
}
await import(main);
