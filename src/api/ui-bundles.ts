import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { RequestHandler } from 'express';

/**
 * The pages' scripts as one file each. The sources in ui/js stay plain ES
 * modules (type-checked by ui/tsconfig.json, readable in the browser's
 * devtools through the source map), but a page that fetches 30 modules
 * spends most of its first second on requests: measured on the review page
 * with 10,000 images, the modules arrived 450-850 ms after navigation even
 * with modulepreload, before a single request for data. One bundle, built
 * by esbuild the first time a page is asked for and kept in memory, arrives
 * in one response.
 *
 * Each bundle's URL carries a hash of its content, so it is cached for good
 * (`immutable`) and a new version is a new URL; the page HTML itself is
 * never cached.
 */
export interface UiBundle {
  /** The URL the page's script tag points at, e.g. /ui/bundle/review-3f9c0a1b2d4e.js */
  url: string;
  code: Buffer;
  map: Buffer;
}

const BUNDLE_PREFIX = '/ui/bundle/';

/** The pages' entry modules, as their HTML names them. */
export const PAGE_ENTRIES = ['/ui/js/main.js', '/ui/js/pi/main.js', '/ui/js/admin/main.js'];

/**
 * Built bundles by entry file, for the process: the sources do not change
 * under a running server, and a test file that starts several servers
 * builds each page once.
 */
const builds = new Map<string, Promise<UiBundle>>();

export class UiBundles {
  private readonly byUrl = new Map<string, Buffer>();

  /** @param uiDir the ui/ directory, ending with a path separator */
  constructor(private readonly uiDir: string) {}

  /** Starts building every page's bundle; a failure is logged here and thrown again when the page is asked for. */
  warm(onError: (err: unknown) => void): void {
    for (const entry of PAGE_ENTRIES) this.bundleFor(entry).catch(onError);
  }

  /**
   * The bundle for an entry module given as a /ui/ URL (the page's script
   * src). A syntax or import error rejects with esbuild's message naming the
   * file and line: the page answers 500 instead of shipping broken code.
   */
  async bundleFor(entryUrl: string): Promise<UiBundle> {
    const file = join(this.uiDir, entryUrl.slice('/ui/'.length));
    let pending = builds.get(file);
    if (!pending) {
      pending = buildBundle(this.uiDir, entryUrl);
      builds.set(file, pending);
      pending.catch(() => builds.delete(file));
    }
    const bundle = await pending;
    this.byUrl.set(bundle.url, bundle.code);
    this.byUrl.set(`${bundle.url}.map`, bundle.map);
    return bundle;
  }

  /** The page HTML with its module script pointing at the bundle. */
  async withBundle(html: string): Promise<string> {
    const entry = /<script type="module" src="(\/ui\/[^"]+)"><\/script>/.exec(html);
    if (!entry) return html;
    return html.replace(entry[0], `<script type="module" src="${(await this.bundleFor(entry[1])).url}"></script>`);
  }

  /** Serves the bundles built so far (mounted before the static ui/ files). */
  handler(): RequestHandler {
    return (req, res, next) => {
      const url = `/ui${req.path}`;
      if (!url.startsWith(BUNDLE_PREFIX)) return next();
      const body = this.byUrl.get(url);
      if (!body) {
        res.status(404).type('text/plain').send('No such bundle (the page that named it is older than this server: reload it).');
        return;
      }
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.type(url.endsWith('.map') ? 'application/json' : 'text/javascript').send(body);
    };
  }
}

async function buildBundle(uiDir: string, entryUrl: string): Promise<UiBundle> {
  const rel = entryUrl.slice('/ui/'.length);
  const name = rel.replace(/^js\//, '').replace(/\/main\.js$|\.js$/, '').replace(/\//g, '-') || 'main';
  const result = await build({
    entryPoints: [join(uiDir, rel)],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    sourcesContent: false,
    legalComments: 'none',
    write: false,
    // Only names the output: the map's sources are then relative to ui/bundle/, where the browser resolves them (/ui/js/...).
    outdir: join(uiDir, 'bundle'),
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
  if (!js || !map) throw new Error(`esbuild produced no bundle for ${entryUrl}`);
  const hash = createHash('sha256').update(js.contents).digest('hex').slice(0, 12);
  const file = `${name}-${hash}.js`;
  return {
    url: `${BUNDLE_PREFIX}${file}`,
    code: Buffer.concat([Buffer.from(js.contents), Buffer.from(`\n//# sourceMappingURL=${file}.map\n`)]),
    map: Buffer.from(map.contents),
  };
}
