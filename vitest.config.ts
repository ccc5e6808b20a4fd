import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    // One router, one LAN: files must not discover at the same time (a fake device set up by
    // one file would answer another file's search).
    fileParallelism: false,
    // Native addons are safest in child processes, one per file.
    pool: 'forks',
    setupFiles: ['__test__/setup.ts'],
    reporters: ['default', './__test__/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
