import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Every core, and two at least: most of a test file's time is spent waiting on sockets,
    // timers and child processes, so two files at once on two cores took half the time of one
    // (vitest's default leaves a core free, one worker on such a machine).
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      'packages/*/vitest.config.ts',
      'checks/vitest.config.ts',
      'checks/runtimes/vitest.config.ts',
      'packages/core/vitest.browser.config.ts',
      'packages/react/vitest.react18.config.ts',
      'packages/react/vitest.browser.config.ts',
      'examples/react-chat/vitest.config.ts',
      'packages/browser/vitest.browser.config.ts',
    ],
  },
})
