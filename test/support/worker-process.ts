/**
 * A real worker process for crash tests: builds the services from the
 * environment, runs the worker role, prints progress as JSON lines, and
 * (with EXIT_WHEN_IMAGES=n) exits once n images exist. PROGRESS_MS sets
 * how often it counts (150 ms by default).
 */
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/config.js';
import { buildServices } from '../../src/app/service.js';
import { startWorkerRole } from '../../workers/main.js';
import { createLogger } from '../../src/app/logger.js';

const config = loadConfig();
const s = await buildServices(config, { log: createLogger('warn') });
const w = await startWorkerRole(s);
const target = Number(process.env.EXIT_WHEN_IMAGES ?? 0);
const every = Number(process.env.PROGRESS_MS ?? 150);
for (;;) {
  const r = await sql<{ n: number }>`select count(*)::int as n from images`.execute(s.db);
  const n = r.rows[0].n;
  process.stdout.write(JSON.stringify({ images: n }) + '\n');
  if (target && n >= target) break;
  await new Promise((res) => setTimeout(res, every));
}
await w.close();
await s.close();
process.exit(0);
