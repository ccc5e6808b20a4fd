import { configDefaults, defineConfig } from 'vitest/config'

// Two projects. "unit": no root, no network beyond loopback, seconds (`npx vitest --project
// unit`, on any laptop or CI runner). "lab": everything that needs the lab's namespaces, its
// router and fake gateway; refuses to run anywhere else (`__test__/setup.ts`).
// `bash __test__/lab/lab.sh test` (and so `npm test`) runs both, unit first.
export default defineConfig({
  test: {
    reporters: ['default', './__test__/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['__test__/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          // Native addons are safest in child processes, one per file.
          pool: 'forks',
          // Generous for a loaded 2-core machine: the CLI cases start node + tsx per run.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['__test__/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '__test__/unit/**'],
          sequence: { groupOrder: 1 },
          // One router, one LAN: files must not discover at the same time (a fake device set
          // up by one file would answer another file's search).
          fileParallelism: false,
          pool: 'forks',
          setupFiles: ['__test__/setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
})
