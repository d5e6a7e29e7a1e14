/**
 * A pull in its own process, for the kill -9 test: pulls project 1 from the
 * Panoptes double at PANOPTES_URL into DATABASE_URL a page at a time,
 * printing each page as a JSON line, until nothing is new.
 */
import { openDatabase } from '../../src/db/database.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { pullProject } from '../../src/domain/results-pull.js';
import { PanoptesClassificationSource } from '../../src/adapters/panoptes/classification-source.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET } from '../support/panoptes-server.js';
import { quietLog } from '../support/upload-fixtures.js';

const db = await openDatabase({ url: process.env.DATABASE_URL! });
const repos = createRepositories(db);
const source = new PanoptesClassificationSource({ baseUrl: process.env.PANOPTES_URL!, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET, baseDelayMs: 5, maxDelayMs: 20 });
for (;;) {
  const r = await pullProject({ repos, source, clock: { now: () => new Date() }, log: quietLog }, '1', { pageSize: 3, maxPages: 1 });
  process.stdout.write(JSON.stringify({ pages: r.pages, kept: r.kept }) + '\n');
  if (r.pages === 0) break;
}
await db.destroy();
process.exit(0);
