import type { EventsRepository } from '../../domain/ports/events-repository.js';
import type { Tx } from './transitions.js';

export function eventsRepository(db: Tx): EventsRepository {
  return {
    async record(collectionId, kind, payload) {
      await db.insertInto('events').values({ collection_id: collectionId, kind, payload: JSON.stringify(payload) }).execute();
    },
    async undelivered(limit, maxAttempts) {
      const rows = await db
        .selectFrom('events')
        .innerJoin('collections', 'collections.id', 'events.collection_id')
        .select('events.id')
        .where('events.delivered_at', 'is', null)
        .where('collections.webhook_url', 'is not', null)
        .where('events.delivery_attempts', '<', maxAttempts)
        .orderBy('events.id')
        .limit(limit)
        .execute();
      return rows.map((r) => String(r.id));
    },
    forDelivery: (eventId) =>
      db
        .selectFrom('events')
        .innerJoin('collections', 'collections.id', 'events.collection_id')
        .select(['events.id', 'events.kind', 'events.payload', 'events.created_at', 'events.delivered_at', 'collections.id as collection_id', 'collections.name', 'collections.webhook_url', 'collections.webhook_secret'])
        .where('events.id', '=', eventId)
        .executeTakeFirst(),
    async markDelivered(eventId) {
      await db.updateTable('events').set((eb) => ({ delivered_at: new Date(), delivery_attempts: eb('delivery_attempts', '+', 1), delivery_error: null })).where('id', '=', eventId).execute();
    },
    async markFailed(eventId, error) {
      await db.updateTable('events').set((eb) => ({ delivery_attempts: eb('delivery_attempts', '+', 1), delivery_error: error })).where('id', '=', eventId).execute();
    },
    list(collectionId, f) {
      let q = db.selectFrom('events').selectAll().where('collection_id', '=', collectionId).orderBy('id', 'desc').limit(f.limit);
      if (f.before) q = q.where('id', '<', f.before);
      return q.execute();
    },
    listForOwner(owner, f) {
      let q = db
        .selectFrom('events')
        .innerJoin('collections', 'collections.id', 'events.collection_id')
        .selectAll('events')
        .select('collections.name as collection_name')
        .where('collections.owner', '=', owner)
        .orderBy('events.id', 'desc')
        .limit(f.limit);
      if (f.before) q = q.where('events.id', '<', f.before);
      return q.execute();
    },
  };
}
