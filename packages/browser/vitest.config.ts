import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'browser',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The Chromium tests run in the browser-chromium project (vitest.browser.config.ts).
    exclude: ['test/chromium/**'],
  },
})
