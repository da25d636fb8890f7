import { defineProject } from 'vitest/config'

/**
 * The chat end to end (project `example-react-chat`): the server of `server.ts` in this
 * process, two pages in Debian's Chromium (driven with Playwright, never a downloaded browser).
 */
export default defineProject({
  test: {
    name: 'example-react-chat',
    include: ['test/**/*.test.ts'],
    testTimeout: 90_000,
  },
})
