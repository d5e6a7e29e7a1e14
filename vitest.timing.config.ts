import { defineConfig } from 'vitest/config';

/** The files that measure time (latency, paint), run one at a time on an otherwise quiet machine. See vitest.config.ts. */
export default defineConfig({
  test: {
    include: ['test/**/*.timing.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
