import { deliverEvent, undelivered } from '../src/domain/notify.js';
import type { Handler, HandlerDeps } from './handler.js';

/** Delivers one recorded event (webhook) to whoever asked for it. */
export function notifyHandler(h: HandlerDeps): Handler<'notify'> {
  return async ({ eventId }) => {
    return deliverEvent({ db: h.pipeline.db, log: h.pipeline.log }, eventId);
  };
}

/** Events are rows first; this queues their delivery (job ids keep it to one each). */
export async function notifyPending(h: Pick<HandlerDeps, 'pipeline' | 'queues'>): Promise<void> {
  for (const eventId of await undelivered(h.pipeline.db)) await h.queues.add('notify', { eventId });
}
