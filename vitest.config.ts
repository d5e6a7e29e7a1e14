import { defineConfig } from 'vitest/config';

/**
 * Two runs make up `npm test`. This one runs every test file except the
 * timing ones, two files at a time: most files wait on Redis, Postgres, child
 * processes and HTTP rather than on the CPU, so two at once roughly halves the
 * wall time on the 2-core CI machine. Files that measure latency or paint
 * times (`*.timing.test.ts`) would measure their neighbours instead; they run
 * afterwards, one at a time, under vitest.timing.config.ts.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/**/*.timing.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
