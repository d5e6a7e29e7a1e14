import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * Nothing unapproved reaches the public store because only one module can
 * write there: src/domain/publish.ts (which checks approval), besides the
 * store adapters themselves. Two scans of src/**\/*.ts fail on any other
 * store write that is not provably to quarantine: a textual one (fast,
 * catches the obvious spellings) and a type-aware one with the TypeScript
 * checker (any call of put/copy on something shaped like an ObjectStore,
 * whatever the variable is called, whose area is not the literal type
 * 'quarantine').
 */

const ROOT = join(import.meta.dirname, '../..');
const ALLOWED = ['src/domain/publish.ts', 'src/adapters/storage/'];

/** The argument text of the call whose "(" is at `open`, up to its matching ")". */
function callArgs(src: string, open: number): string {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return src.slice(open + 1, i);
    }
  }
  return src.slice(open + 1);
}

function firstArg(args: string): string {
  let depth = 0;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i];
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) return args.slice(0, i).trim();
  }
  return args.trim();
}

const QUARANTINE = /^(['"`])quarantine\1$/;

/** Store writes in `src` that are not provably to quarantine. */
export function publicWrites(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/([\w$.\]\)]*)\s*\.\s*(put|copy)\s*\(/g)) {
    const receiver = m[1];
    const args = callArgs(src, m.index! + m[0].length - 1);
    const storeLike = /store/i.test(receiver) || /\barea\b|['"`]public['"`]|['"`]quarantine['"`]/.test(args);
    if (!storeLike) continue;
    const call = `${receiver}.${m[2]}(${args.length > 80 ? `${args.slice(0, 80)}...` : args})`;
    if (m[2] === 'put') {
      if (!QUARANTINE.test(firstArg(args))) out.push(call);
    } else {
      const areas = [...args.matchAll(/\barea\s*:\s*([^,}\s]+)/g)].map((a) => a[1]);
      if (areas.length < 2 || !areas.every((a) => QUARANTINE.test(a))) out.push(call);
    }
  }
  // A target built elsewhere and passed in: any public area literal in an object.
  for (const m of src.matchAll(/\barea\s*:\s*(['"`])public\1/g)) out.push(src.slice(Math.max(0, m.index! - 40), m.index! + m[0].length));
  return out;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('only src/domain/publish.ts writes to the public store', () => {
  it('the scanner catches the ways a public write can be spelled', () => {
    expect(publicWrites(`await d.store.put('public', key, bytes, opts)`)).toHaveLength(1);
    expect(publicWrites(`await this.store.put(\n  "public",\n  key, bytes, opts)`)).toHaveLength(1);
    expect(publicWrites(`await store.put(area, key, bytes, opts)`)).toHaveLength(1);
    expect(publicWrites(`await s.store.copy({ area: 'quarantine', key: a }, { area: 'public', key: b }, opts)`).length).toBeGreaterThan(0);
    expect(publicWrites(`const to = { area: 'public' as const, key }; await x.copy(from, to, o)`).length).toBeGreaterThan(0);
    expect(publicWrites(`await (deps.store).put('public', k, b, o)`)).toHaveLength(1);
    // Writes to quarantine, and unrelated put/copy calls, pass.
    expect(publicWrites(`await d.store.put('quarantine', key, art.bytes, { contentType: ext === '.zip' ? 'application/zip' : 'application/fits' })`)).toEqual([]);
    expect(publicWrites(`await store.copy({ area: 'quarantine', key: a }, { area: 'quarantine', key: b }, o)`)).toEqual([]);
    expect(publicWrites(`body.copy(padded); map.put(1, 2); http.put(url, body)`)).toEqual([]);
  });

  it('no other module writes to the public area', async () => {
    const offenders: string[] = [];
    let publishWrites = 0;
    for (const file of await sourceFiles(join(ROOT, 'src'))) {
      const rel = relative(ROOT, file).split('\\').join('/');
      const found = publicWrites(await readFile(file, 'utf8'));
      if (rel === 'src/domain/publish.ts') publishWrites = found.length;
      if (ALLOWED.some((a) => rel === a || (a.endsWith('/') && rel.startsWith(a)))) continue;
      offenders.push(...found.map((f) => `${rel}: ${f}`));
    }
    expect(offenders).toEqual([]);
    // The allowlisted module is where the writes really are (the scan is not blind to them).
    expect(publishWrites).toBeGreaterThanOrEqual(3);
  });
});

/** Calls of put/copy on ObjectStore-shaped values whose target area is not, by type, 'quarantine'. */
function typedPublicWrites(program: ts.Program, file: ts.SourceFile): string[] {
  const checker = program.getTypeChecker();
  const out: string[] = [];
  const isQuarantine = (t: ts.Type | undefined) => !!t && t.isStringLiteral() && t.value === 'quarantine';
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['put', 'copy'].includes(node.expression.name.text)) {
      const receiver = checker.getTypeAtLocation(node.expression.expression);
      const storeLike = ['put', 'copy', 'publicUrl', 'head'].every((p) => receiver.getProperty(p));
      if (storeLike) {
        let ok: boolean;
        if (node.expression.name.text === 'put') {
          ok = isQuarantine(node.arguments[0] && checker.getTypeAtLocation(node.arguments[0]));
        } else {
          const target = node.arguments[1];
          const area = target && checker.getTypeAtLocation(target).getProperty('area');
          ok = !!area && isQuarantine(checker.getTypeOfSymbolAtLocation(area, target));
        }
        if (!ok) {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart());
          out.push(`line ${line + 1}: ${node.getText().slice(0, 100)}`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

describe('only src/domain/publish.ts writes to the public store (type-aware)', () => {
  let dir: string;
  let program: ts.Program;
  let probe: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'one-place-'));
    // A module that writes publicly through a store called something else, to prove the check sees it.
    probe = join(dir, 'probe.ts');
    const ports = join(ROOT, 'src/domain/ports/object-store.js');
    await writeFile(
      probe,
      [
        `import type { ObjectStore, StoreArea } from ${JSON.stringify(ports)};`,
        `export async function sneaky(objects: ObjectStore, area: StoreArea, b: Uint8Array) {`,
        `  const to = { area: 'public' as const, key: 'k' };`,
        `  await objects.copy({ area: 'quarantine', key: 'q' }, to, { contentType: 'image/png' });`,
        `  await objects.put(area, 'k', b, { contentType: 'image/png' });`,
        `  await objects.put('quarantine', 'k', b, { contentType: 'image/png' });`,
        `}`,
      ].join('\n'),
    );
    const cfg = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT);
    const roots = parsed.fileNames.filter((f) => relative(ROOT, f).startsWith('src'));
    program = ts.createProgram({ rootNames: [...roots, probe], options: { ...parsed.options, noEmit: true, rootDir: undefined } });
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sees public writes whatever the store variable is called', () => {
    const found = typedPublicWrites(program, program.getSourceFile(probe)!);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/objects\.copy/);
    expect(found[1]).toMatch(/objects\.put\(area/);
  });

  it('no module but publish.ts and the store adapters writes to the public area', () => {
    const offenders: string[] = [];
    let publishWrites = 0;
    for (const file of program.getSourceFiles()) {
      const rel = relative(ROOT, file.fileName).split('\\').join('/');
      if (!rel.startsWith('src/')) continue;
      const found = typedPublicWrites(program, file);
      if (rel === 'src/domain/publish.ts') publishWrites = found.length;
      if (ALLOWED.some((a) => rel === a || (a.endsWith('/') && rel.startsWith(a)))) continue;
      offenders.push(...found.map((f) => `${rel} ${f}`));
    }
    expect(offenders).toEqual([]);
    expect(publishWrites).toBeGreaterThanOrEqual(3);
  });
});
