import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

/*
 * The project's dependency rules, checked on the source text with the
 * TypeScript compiler (imports, re-exports, dynamic imports and calls of the
 * global fetch), so a rule is broken the moment a file imports across it.
 * See ARCHITECTURE.md for why each rule exists.
 */

/** A source file as the checker sees it: its path from the package root and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  rule: string;
  detail: string;
}

/** The file limit; a longer file must say why in its header comment with this phrase. */
export const MAX_LINES = 400;
export const LONG_FILE_MARKER = 'Longer than 400 lines because';

const ADAPTER_PACKAGES = ['express', 'bullmq', 'ioredis', 'kysely', 'pg', '@electric-sql/pglite', '@aws-sdk/', 'openid-client', '@bull-board/', 'helmet', 'express-rate-limit', 'prom-client', 'pino'];

const isAdapterPackage = (p: string) => ADAPTER_PACKAGES.some((a) => (a.endsWith('/') ? p.startsWith(a) : p === a || p.startsWith(`${a}/`)));

const layer = (p: string): string => {
  if (p.startsWith('workers/')) return 'workers';
  const m = /^src\/([^/]+)\//.exec(p);
  return m ? m[1] : 'other';
};

/** What one file imports: project files as paths from the root, packages by name. */
export function importsOf(file: SourceFile): { files: string[]; packages: string[]; callsFetch: boolean } {
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.ES2022, true);
  const specs: string[] = [];
  let callsFetch = false;
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) specs.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n)) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0])) specs.push(n.arguments[0].text);
      const callee = n.expression;
      if (ts.isIdentifier(callee) && callee.text === 'fetch') callsFetch = true;
      if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'fetch' && ts.isIdentifier(callee.expression) && callee.expression.text === 'globalThis') callsFetch = true;
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const files: string[] = [];
  const packages: string[] = [];
  for (const s of specs) {
    if (s.startsWith('.')) files.push(normalize(join(dirname(file.path), s)).replace(/\.js$/, '.ts'));
    else if (!s.startsWith('node:')) packages.push(s);
  }
  return { files, packages, callsFetch };
}

/** Every broken rule in `files`. */
export function checkDependencies(files: SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = layer(f.path);
    const { files: targets, packages, callsFetch } = importsOf(f);
    const bad = (rule: string, detail: string) => out.push({ file: f.path, rule, detail });
    for (const t of targets) {
      const to = layer(t);
      if (from === 'imaging' && to !== 'imaging') bad('imaging imports nothing outside src/imaging', t);
      if (from === 'results' && to !== 'results') bad('results imports nothing outside src/results', t);
      if (from === 'domain' && ['db', 'adapters', 'api', 'cli', 'app', 'workers', 'identity'].includes(to)) bad('the domain depends on ports, not on adapters, api, cli or processes', t);
      if (from === 'api' && ['db', 'adapters', 'workers', 'cli'].includes(to)) bad('api talks to services and ports, not to adapters or workers', t);
      if (from === 'workers' && ['api', 'cli'].includes(to)) bad('workers do not import the api or the cli', t);
      if (from !== 'cli' && to === 'cli') bad('nothing imports the cli', t);
    }
    for (const p of packages) {
      // Pure-computation packages (pngjs decodes PNGs inside ZIPs) are fine; services are not.
      if (from === 'imaging' && isAdapterPackage(p)) bad('imaging imports nothing outside src/imaging', p);
      // The results library is pure computation on node: builtins only (those are not listed as packages).
      if (from === 'results') bad('results imports nothing outside src/results', p);
      if (from === 'domain' && isAdapterPackage(p)) bad('the domain depends on ports, not on adapter packages', p);
    }
    if (from === 'domain' && callsFetch) bad('the domain depends on ports, not on adapters', 'calls fetch');
  }
  return out;
}

/** Files over MAX_LINES whose header comment does not say why. */
export function unexplainedLongFiles(files: SourceFile[]): { file: string; lines: number }[] {
  return files
    .map((f) => ({ f, lines: f.text.split('\n').length }))
    .filter(({ f, lines }) => lines > MAX_LINES && !header(f.text).includes(LONG_FILE_MARKER))
    .map(({ f, lines }) => ({ file: f.path, lines }));
}

/** The comments before the first statement (after imports are allowed too: the first 60 lines). */
function header(text: string): string {
  return text.split('\n').slice(0, 60).join('\n');
}

/** The project's own sources: src/, workers/ and the page's scripts. */
export function projectSources(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push({ path: relative('.', p), text: readFileSync(join(root, p), 'utf8') });
    }
  };
  for (const d of ['src', 'workers', 'ui']) {
    try {
      walk(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out;
}
