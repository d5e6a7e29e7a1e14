#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/src/ (and the workers to dist/workers/) by `npm ci` (the prepare script),
// and its start-up graph bundled into dist/src/cli/main.bundle.js (scripts/bundle-cli.mjs), which loads faster.
// A bundle older than the compiled main.js (tsc run alone, e.g. `tsc -w`) is stale and is not used.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// fs through require: an ES import of node:fs builds its export facade, which loads Node's stream modules (~4 ms of
// every start, issue 16's start-up target).
const { existsSync, statSync } = createRequire(import.meta.url)('node:fs');

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const bundle = fileURLToPath(new URL('../dist/src/cli/main.bundle.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('bridge: dist/ is missing; run `npm ci` or `npm run build` first\n');
  process.exit(70);
}
const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(main).mtimeMs;
await import(fresh ? bundle : main);
