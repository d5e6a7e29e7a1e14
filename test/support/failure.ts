/** The error a promise (or a call) rejects with; fails the test when it resolves instead. */
export async function failure(p: Promise<unknown> | (() => Promise<unknown>)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}
