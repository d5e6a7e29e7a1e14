/** One signed POST of an event to a PI's webhook. */
export interface WebhookDelivery {
  url: string;
  /** The exact bytes that were signed. */
  body: string;
  headers: Record<string, string>;
}

/** Delivered (2xx), or why not, in words the PI reads in the event log: generic ("timed out", "refused: private address", "the webhook answered HTTP 500"), never a response body or internal detail. */
export type WebhookOutcome = { delivered: true; status?: number } | { delivered: false; reason: string };

/**
 * Sends webhook deliveries. The adapter decides what "reachable" means
 * (timeouts, redirects, which addresses it refuses); the domain only learns
 * whether the PI's endpoint took the event.
 */
export interface WebhookSender {
  send(d: WebhookDelivery): Promise<WebhookOutcome>;
}
