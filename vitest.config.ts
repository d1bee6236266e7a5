import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most files wait on sockets, child processes and timers rather than the CPU: two at a time on a
    // 2-core machine keeps the whole suite near 3 minutes instead of 5 (vitest would default to one).
    maxWorkers: 2,
  },
});
