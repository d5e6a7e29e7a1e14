import type { RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * bull-board over the raw BullMQ queues, served at `basePath`. It is built
 * by the composition root and mounted by the API behind the admin role, so
 * the API itself only knows the JobQueue port.
 */
export function queueDashboard(queues: Iterable<Queue>, basePath: string): RequestHandler {
  const board = new ExpressAdapter();
  board.setBasePath(basePath);
  createBullBoard({ queues: [...queues].map((q) => new BullMQAdapter(q)), serverAdapter: board });
  board.setViewsPath(offlineViews());
  return board.getRouter() as RequestHandler;
}

/**
 * bull-board's page template loads its fonts from Google: offline (or behind
 * a strict egress policy) the dashboard waits on them, and an admin's browser
 * tells Google it is looking at the queues. This serves the same template
 * without that link (the page falls back to system fonts); its scripts and
 * styles come from the package, as before. The copy is named by its content,
 * so processes of one version share it.
 */
function offlineViews(): string {
  const ui = dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
  const template = readFileSync(join(ui, 'dist', 'index.ejs'), 'utf8').replace(/<link[^>]*fonts\.(googleapis|gstatic)\.com[^>]*>\s*/g, '');
  const dir = join(tmpdir(), `bridge-bull-board-${createHash('sha256').update(template).digest('hex').slice(0, 12)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.ejs'), template);
  return dir;
}
