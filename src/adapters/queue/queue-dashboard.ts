import type { RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';

/**
 * bull-board over the raw BullMQ queues, served at `basePath`. It is built
 * by the composition root and mounted by the API behind the admin role, so
 * the API itself only knows the JobQueue port.
 */
export function queueDashboard(queues: Iterable<Queue>, basePath: string): RequestHandler {
  const board = new ExpressAdapter();
  board.setBasePath(basePath);
  createBullBoard({ queues: [...queues].map((q) => new BullMQAdapter(q)), serverAdapter: board });
  return board.getRouter() as RequestHandler;
}
