/**
 * Mutual exclusion between runs of the same work, within a process and
 * across the processes sharing the database. The holder's process dying
 * releases what it held, so a crashed run never keeps a key taken.
 */
export interface Lock {
  /**
   * Runs `fn` holding `key` and lets go after it, however it ends. Never
   * waits: when someone else holds the key it rejects at once with
   * LockBusyError, without running `fn`.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** The key is held by another run: in this process, or (`elsewhere`) in another one. */
export class LockBusyError extends Error {
  constructor(
    readonly key: string,
    readonly elsewhere: boolean,
  ) {
    super(`${key} is held by ${elsewhere ? 'another process' : 'another run in this process'}`);
    this.name = 'LockBusyError';
  }
}
