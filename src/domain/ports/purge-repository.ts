/**
 * What a PI's purge removes beyond their collections (which go through the
 * collections repository, cascading to everything they hold): the records
 * kept about the person.
 */
export interface PurgeRepository {
  /** Ends every session of the user; returns how many there were. */
  endSessionsOf(username: string): Promise<number>;
  /** Removes every prefix delegated to the user; returns how many there were. */
  dropDelegationsOf(username: string): Promise<number>;
}
