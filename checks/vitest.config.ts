import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'checks',
    include: ['**/*.test.ts'],
    // The runtime matrix is a project of its own (runtimes/vitest.config.ts).
    exclude: ['node_modules/**', '.generated/**', 'runtimes/**'],
    // These run the TypeScript compiler, pack tarballs and start processes: seconds, not
    // milliseconds, on a loaded 2-core machine. Each wait inside has its own bound.
    testTimeout: 120_000,
  },
})
