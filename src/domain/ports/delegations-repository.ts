import type { Delegation } from '../model.js';

export interface NewDelegation {
  username: string;
  /** A collection prefix u/<name>/... ending in '/'. */
  prefix: string;
  grantedBy: string;
}

/**
 * Collection prefixes outside u/<own name>/ that an admin let a PI register
 * under (e.g. a team's shared run collections).
 */
export interface DelegationsRepository {
  /** Oldest first. */
  list(): Promise<Delegation[]>;
  /** The prefixes delegated to `username`. */
  prefixesOf(username: string): Promise<string[]>;
  /** Undefined when the user already holds that prefix. */
  grant(d: NewDelegation): Promise<Delegation | undefined>;
  /** Removes the delegation and returns what it was; undefined when there was none. */
  revoke(id: string): Promise<Delegation | undefined>;
  /** Removes every prefix delegated to the user (a purge); returns how many there were. */
  revokeAllOf(username: string): Promise<number>;
}
