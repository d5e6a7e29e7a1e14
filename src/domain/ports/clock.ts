/**
 * The time, for rules that depend on it (embargoes, daily caps, expiry).
 * Injected so tests can set it; adapters and repositories stamp their own
 * rows with the database's or the process's time.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
