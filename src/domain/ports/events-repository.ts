import type { BridgeEvent, Collection } from '../model.js';

/** What a PI may be told about, by webhook and in the collection's event log. */
export type EventKind = 'batch_quarantined' | 'artifact_failed' | 'group_failed' | 'images_approved' | 'images_rejected' | 'batch_published' | 'batch_uploaded' | 'batch_failed' | 'batch_blocked' | 'batch_waiting' | 'batch_retracted' | 'images_retracted' | 'verdicts_reopened' | 'images_back_to_review' | 'files_retrieved' | 'subject_retired' | 'subject_flagged' | 'results_updated';

/** An event with the collection fields its delivery needs. */
export type DeliverableEvent = Pick<BridgeEvent, 'id' | 'kind' | 'payload' | 'created_at' | 'delivered_at' | 'collection_id'> & Pick<Collection, 'name' | 'webhook_url' | 'webhook_secret'>;

/** Events are rows first (written with the change they report); delivery reads them back. */
export interface EventsRepository {
  record(collectionId: string, kind: EventKind, payload: Record<string, unknown>): Promise<void>;
  /** Ids of events waiting for delivery to a configured webhook (fewer than `maxAttempts` tries so far), oldest first. */
  undelivered(limit: number, maxAttempts: number): Promise<string[]>;
  forDelivery(eventId: string): Promise<DeliverableEvent | undefined>;
  markDelivered(eventId: string): Promise<void>;
  markFailed(eventId: string, error: string): Promise<void>;
  /** Newest first, keyset-paged by id. */
  list(collectionId: string, filter: { before?: string; limit: number }): Promise<BridgeEvent[]>;
  /** Events of every collection `owner` owns, newest first, keyset-paged by id, each with its collection's name. */
  listForOwner(owner: string, filter: { before?: string; limit: number }): Promise<(BridgeEvent & { collection_name: string })[]>;
}
