/**
 * Memory the conversion threads read without a copy: bytes in a
 * SharedArrayBuffer go to every thread as they are, where bytes in an
 * ordinary buffer would be copied into each thread's message.
 */
export function sharedBytes(size: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(size));
}

/** `bytes` in shared memory: as they are when they already are, else copied there once. */
export function shared(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes;
  const view = sharedBytes(bytes.length);
  view.set(bytes);
  return view;
}
