import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'core',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The browser tests run in Chromium, in the core-browser project (vitest.browser.config.ts).
    exclude: ['test/browser/**'],
  },
})
