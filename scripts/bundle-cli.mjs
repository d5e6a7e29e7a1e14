// Bundles what every `bridge` run loads before its command starts (main.js, the command definitions, commander) into
// one file, dist/src/cli/main.bundle.js, which bin/bridge.js runs. Node 20 compiles each ES module separately and has no
// compile cache for them: loading ~35 small files cost ~25 ms of `bridge --help` (issue 16's start-up target).
//
// A command's work stays lazy: every `import()` stays an import of the compiled file under dist/. A module that the
// start-up graph AND some lazily loaded module both import is left out of the bundle too (imported from dist/), so
// that it is loaded once: two copies would mean two UsageError classes, and `instanceof` in main.ts would miss the
// errors the commands throw. main.bundle.json records which files went into the bundle; test/cli-startup checks,
// on the running CLI, that none of them is also loaded from dist/.
//
// Run by `npm run build` and `prepare` after tsc. Usage: node scripts/bundle-cli.mjs
import { build } from 'esbuild';
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI_DIR = join(ROOT, 'dist/src/cli');
const ENTRY = join(CLI_DIR, 'main.js');
const OUT = join(CLI_DIR, 'main.bundle.js');

const common = { absWorkingDir: ROOT, entryPoints: [ENTRY], bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' };

/** Metafile input keys are relative to ROOT with forward slashes; packages are keyed by their path under node_modules. */
const abs = (key) => resolve(ROOT, key);

// Pass 1: the project's whole graph, lazy parts included, to learn what start-up and the lazy commands share. Packages
// are not followed (only named): start-up uses commander alone, and the service's packages need not bundle.
const probe = await build({ ...common, write: false, metafile: true, outfile: OUT, packages: 'external' });
const inputs = probe.metafile.inputs;
const packageKey = (specifier) => `package:${specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')}`;
const closure = (roots, follow) => {
  const seen = new Set();
  const todo = [...roots];
  while (todo.length) {
    const key = todo.pop();
    if (seen.has(key) || !inputs[key]) continue;
    seen.add(key);
    for (const imp of inputs[key].imports) {
      if (!follow(imp.kind)) continue;
      if (!imp.external) todo.push(imp.path);
      else if (!imp.path.startsWith('node:')) seen.add(packageKey(imp.path));
    }
  }
  return seen;
};
const entryKey = relative(ROOT, ENTRY).split(sep).join('/');
const atStartup = closure([entryKey], (kind) => kind !== 'dynamic-import');
const lazyRoots = Object.values(inputs).flatMap((i) => i.imports.filter((imp) => imp.kind === 'dynamic-import' && !imp.external).map((imp) => imp.path));
const lazy = closure(lazyRoots, () => true);
const both = [...atStartup].filter((k) => lazy.has(k));
const shared = new Set(both.filter((k) => !k.startsWith('package:')).map(abs));
const sharedPackages = new Set(both.filter((k) => k.startsWith('package:')));

// The bundle sits beside main.js, so a file under dist/ is reached by its path relative to dist/src/cli/.
const fromBundle = (file) => {
  const rel = relative(CLI_DIR, file).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
};

// Pass 2: the bundle itself.
const result = await build({
  ...common,
  outfile: OUT,
  metafile: true,
  // commander is CommonJS: its require() calls of node: modules need a real require in an ES module.
  banner: { js: "import { createRequire as __bridgeRequire } from 'node:module';\nconst require = __bridgeRequire(import.meta.url);" },
  plugins: [
    {
      // commander requires node:child_process at load (~4 ms: it brings net, streams, ...) for one use: spawning
      // executable subcommands, which bridge has none of. Inside the bundle it gets a stand-in that loads the real
      // module on first call, so that path still works if a command ever needs it.
      name: 'child-process-on-first-use',
      setup(b) {
        b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
          args.importer.includes(`${sep}node_modules${sep}commander${sep}`) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
          loader: 'js',
          contents: "let real;\nconst load = () => (real ??= require('node:child_process'));\nmodule.exports = new Proxy({}, { get: (_, name) => load()[name] });\n",
        }));
      },
    },
    {
      name: 'keep-lazy-and-shared-outside',
      setup(b) {
        b.onResolve({ filter: /.*/ }, async (args) => {
          if (args.pluginData === 'resolving') return undefined;
          if (args.kind === 'entry-point' || args.path.startsWith('node:')) return undefined;
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
          if (r.errors.length > 0 || r.external) return r.errors.length > 0 ? { errors: r.errors } : { path: args.path, external: true };
          const inPackage = r.path.includes(`${sep}node_modules${sep}`);
          // Inside a bundled package its own files are bundled with it.
          if (inPackage && args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
          if (inPackage) return args.kind === 'dynamic-import' || sharedPackages.has(packageKey(args.path)) ? { path: args.path, external: true } : undefined;
          if (args.kind === 'dynamic-import' || shared.has(r.path)) return { path: fromBundle(r.path), external: true };
          return undefined;
        });
      },
    },
  ],
});

const bundled = Object.keys(result.metafile.inputs).sort();
await writeFile(
  join(CLI_DIR, 'main.bundle.json'),
  JSON.stringify({ note: 'Files inside main.bundle.js (scripts/bundle-cli.mjs); each is loaded only from the bundle.', bundled, sharedWithLazy: [...shared].map((f) => relative(ROOT, f).split(sep).join('/')).concat([...sharedPackages]).sort() }, null, 2) + '\n',
);
