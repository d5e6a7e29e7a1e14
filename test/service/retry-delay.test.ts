import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/adapters/queue/bullmq-options.js';
import { UpstreamError } from '../../src/domain/errors.js';

describe('job retry delay', () => {
  it('doubles per attempt and stays in the upper half of each step (jitter)', () => {
    for (const n of [1, 2, 3, 4]) {
      const full = 1000 * 2 ** (n - 1);
      expect(retryDelay(1000, n, undefined, () => 0)).toBe(full / 2);
      expect(retryDelay(1000, n, undefined, () => 0.999999)).toBeLessThanOrEqual(full);
      expect(retryDelay(1000, n, undefined, () => 0.999999)).toBeGreaterThan(full * 0.99);
    }
  });

  it('never retries sooner than an upstream Retry-After asked', () => {
    const asked = new UpstreamError('Butler said 503', 120_000);
    expect(retryDelay(1000, 1, asked, () => 0.5)).toBe(120_000);
    // A shorter request does not shorten our own backoff.
    expect(retryDelay(60_000, 1, new UpstreamError('503', 1000), () => 0)).toBe(30_000);
  });
});
