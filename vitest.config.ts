import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
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
