import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { startBridgeApp, type BridgeApp } from './bridge-app.js';
import { ButlerServerDouble, DOUBLE_TOKEN, type SeedDataset } from './butler-server.js';
import { seedResults } from './results-seed.js';
import { readBody } from '../../src/demo/read-body.js';

/**
 * The bridge the Python client's tests and the tutorial notebook talk to
 * (run with `npx tsx test/support/python-bridge.ts`): the real OIDC
 * provider, the real bridge API and workers (Redis + PGlite) reading a
 * contract Butler server, all on loopback. It prints ONE JSON line,
 *
 *   {"url", "control", "repository", "runs", "tokens": {alien, other, rev, boss}}
 *
 * and then runs until stdin closes or it gets SIGTERM/SIGINT. Tokens are
 * bearer tokens minted by the provider for the test accounts, as
 * Gafaelfawr's ACCESS_TOKEN would be in a notebook.
 *
 * `control` is a loopback HTTP endpoint for what only a test can do,
 * because in production it happens outside the bridge:
 *   POST /butler  {run, patches?, stamps?}  a PI's butler.put of cutouts into a run
 *   POST /results {collectionId}            volunteers' classifications, reduced (waits
 *                                           until the collection's images are judged)
 * Runs named with --volunteers get results as soon as their images are
 * judged, so the notebook's results cell has something to show.
 */

const REPOSITORY = 'dp02';
const DATASET_TYPE = 'zooniverse_cutout';

interface Args {
  runs: string[];
  volunteers: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const runs: string[] = [];
  const volunteers = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--run') runs.push(argv[++i]);
    else if (a === '--volunteers') {
      const run = argv[++i];
      volunteers.add(run);
      runs.push(run);
    } else throw new Error(`python-bridge: unknown argument ${a} (use --run <u/name/run> or --volunteers <u/name/run>)`);
  }
  return { runs, volunteers };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const butler = await ButlerServerDouble.start({ repository: REPOSITORY });
  const dir = await mkdtemp(join(tmpdir(), 'python-bridge-'));
  let app: BridgeApp | undefined;
  let control: ReturnType<typeof createServer> | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(volunteerTimer);
    control?.closeAllConnections();
    control?.close();
    await app?.close().catch(() => {});
    await butler.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    process.exit(code);
  };
  let volunteerTimer: NodeJS.Timeout | undefined;

  try {
    app = await startBridgeApp({
      owners: [],
      env: { BUTLER_URL: butler.url, BUTLER_TOKEN: DOUBLE_TOKEN, LOG_LEVEL: 'warn' },
      // A notebook re-run registers and previews many times; the production limit is for people.
      writeRateLimit: 1000,
    });
    const a = app;

    let seq = 0;
    /** What butler.put(..., "zooniverse_cutout", ...) leaves in a run: one stamps file per band per patch. */
    const seedRun = async (run: string, patches = 1, stamps = 4): Promise<number> => {
      const owner = /^u\/([^/]+)\//.exec(run)?.[1];
      if (!owner) throw new Error(`run must be u/<user>/..., not ${run}`);
      const root = join(dir, `run-${++seq}`);
      const patchList = Array.from({ length: patches }, (_, k) => 42 + k);
      await writeDemoArtifacts(root, { owner, run, datasetType: DATASET_TYPE, tracts: [9813], patches: patchList, stampsPerFile: stamps, size: 48 });
      const seeded: SeedDataset[] = [];
      for (const patch of patchList) {
        const base = join(root, run, DATASET_TYPE, '9813', String(patch));
        for (const band of await readdir(base)) {
          const [name] = await readdir(join(base, band));
          seeded.push({ id: randomUUID(), datasetType: DATASET_TYPE, run, dataId: { band, skymap: 'lsst_cells_v1', tract: 9813, patch }, ingestDate: new Date(Date.now() - 3600_000), bytes: new Uint8Array(await readFile(join(base, band, name))) });
        }
      }
      butler.seed(...seeded);
      return seeded.length;
    };

    const judgedImages = async (collectionId: string): Promise<string[] | undefined> => {
      const rows = await a.s.db.selectFrom('images').select(['id', 'verdict', 'stamp_index']).where('collection_id', '=', collectionId).orderBy('stamp_index').orderBy('id').execute();
      if (!rows.length || rows.some((r) => r.verdict === null)) return undefined;
      return rows.map((r) => r.id);
    };
    const seeded = new Set<string>();
    // Zooniverse subject ids are unique across collections: each seeding starts after the last one's.
    let nextSubject = 0;
    const seedFor = async (collectionId: string): Promise<number> => {
      if (seeded.has(collectionId)) throw new Error(`results for ${collectionId} are already seeded`);
      seeded.add(collectionId);
      const ids = await judgedImages(collectionId);
      if (!ids) throw new Error(`collection ${collectionId} has no judged images yet`);
      const images = await a.s.db.selectFrom('images').select(['id', 'ra', 'dec']).where('collection_id', '=', collectionId).execute();
      const first = nextSubject;
      nextSubject += ids.length;
      const r = await seedResults(a.s.db, collectionId, ids, { first, positions: new Map(images.map((i) => [i.id, { ra: i.ra, dec: i.dec }])) });
      return r.reductions.length;
    };

    for (const run of args.runs) await seedRun(run, 1, 4);

    // Simulated volunteers for --volunteers runs: results as soon as a registered collection's images are judged.
    let busy = false;
    volunteerTimer = setInterval(() => {
      if (busy || !args.volunteers.size) return;
      busy = true;
      void (async () => {
        const cs = await a.s.db.selectFrom('collections').select(['id', 'name']).where('name', 'in', [...args.volunteers]).execute();
        for (const c of cs) if (!seeded.has(c.id) && (await judgedImages(c.id))) await seedFor(c.id);
      })()
        .catch((e: Error) => process.stderr.write(`python-bridge: simulated volunteers: ${e.message}\n`))
        .finally(() => (busy = false));
    }, 100);

    control = createServer((req, res) => {
      void handle(req, res).catch((e: Error) => send(res, 400, { error: e.message }));
    });
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
      if (req.method === 'POST' && req.url === '/butler') {
        return send(res, 200, { datasets: await seedRun(String(body.run), Number(body.patches ?? 1), Number(body.stamps ?? 4)) });
      }
      if (req.method === 'POST' && req.url === '/results') {
        const id = String(body.collectionId);
        const deadline = Date.now() + 30_000;
        while (!(await judgedImages(id))) {
          if (Date.now() > deadline) throw new Error(`collection ${id}: images not judged within 30 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        return send(res, 200, { subjects: await seedFor(id) });
      }
      send(res, 404, { error: `no control route ${req.method} ${req.url}` });
    };
    await new Promise<void>((r) => control!.listen(0, '127.0.0.1', r));

    // Long-lived tokens: a person may run the notebook against this by hand.
    const tokens: Record<string, string> = {};
    for (const who of ['alien', 'other', 'rev', 'boss']) tokens[who] = await a.op.tokenFor(who, { audience: a.op.apiAudience, expiresIn: 8 * 3600 });
    process.stdout.write(
      JSON.stringify({ url: a.url, control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`, repository: REPOSITORY, datasetType: DATASET_TYPE, runs: args.runs, tokens }) + '\n',
    );
  } catch (e) {
    process.stderr.write(`python-bridge: could not start: ${(e as Error).stack ?? e}\n`);
    await stop(1);
    return;
  }

  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // The parent (pytest) going away closes our stdin: stop with it, never linger.
  process.stdin.resume();
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('error', () => void stop(0));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}


void main();
