import { deliverEvent, undelivered } from '../src/domain/notify.js';
import type { Handler, HandlerDeps } from './handler.js';

/** Delivers one recorded event (webhook) to whoever asked for it. */
export function notifyHandler(h: HandlerDeps): Handler<'notify'> {
  return async ({ eventId }) => {
    return deliverEvent(h, eventId);
  };
}

/** Events are rows first; this queues their delivery (job ids keep it to one each). */
export async function notifyPending(h: Pick<HandlerDeps, 'repos' | 'queues'>): Promise<void> {
  for (const eventId of await undelivered(h.repos)) await h.queues.add('notify', { eventId });
}
