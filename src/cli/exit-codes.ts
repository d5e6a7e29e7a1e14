/** Exit codes of the bridge CLI, documented in the README. */
export const EXIT = {
  ok: 0,
  /** Bad input: nothing could be done (message names file, HDU/stamp and problem). */
  failed: 1,
  /** Wrong command-line usage. */
  usage: 2,
  /** Some stamps converted, some failed (each failure printed). */
  partial: 3,
} as const;

/** Thrown for command-line misuse that commander cannot express (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}
