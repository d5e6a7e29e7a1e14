/**
 * One application of a collection's results rules in its own process, for
 * the kill -9 test: applies COLLECTION_ID's rules from DATABASE_URL against
 * the Panoptes double at PANOPTES_URL, prints the report as a JSON line.
 */
import { openDatabase } from '../../src/db/database.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { applyResultRules } from '../../src/domain/results-effects.js';
import { PanoptesZooniverseEffects } from '../../src/adapters/panoptes/zooniverse-effects.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET } from '../support/panoptes-server.js';
import { quietLog } from '../support/upload-fixtures.js';

const db = await openDatabase({ url: process.env.DATABASE_URL! });
const effects = new PanoptesZooniverseEffects({ baseUrl: process.env.PANOPTES_URL!, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET, baseDelayMs: 5, maxDelayMs: 20 });
const report = await applyResultRules({ repos: createRepositories(db), zooniverse: effects, log: quietLog, retireReadBackDelayMs: 50 }, process.env.COLLECTION_ID!);
process.stdout.write(JSON.stringify(report) + '\n');
await db.destroy();
process.exit(0);
