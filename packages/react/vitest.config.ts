import { defineProject } from 'vitest/config'

/**
 * Unit tests of `@lifeline/react` with React 19 (project `react`), in happy-dom, over the fake
 * socket and manual clock of `@lifeline/core/testing`. `vitest.react18.config.ts` runs the same
 * files with React 18; the Chromium test against a real server is `vitest.browser.config.ts`.
 */
export default defineProject({
  test: {
    name: 'react',
    include: ['test/**/*.test.{ts,tsx}'],
    exclude: ['test/browser/**', 'test/react18/**'],
    environment: 'happy-dom',
    env: { REACT_MAJOR: '19' },
  },
})
