/**
 * Browser test of `@lifeline/react` (project `react-browser`): `test/browser/*.browser.test.tsx`
 * render with React 19 in Debian's headless Chromium (`@lifeline/test-utils/chromium`, as every
 * Chromium test; never a downloaded one), against a real `@lifeline/server` that
 * `test/browser/globalSetup.ts` starts on 127.0.0.1 port 0 and restarts on the page's request.
 *
 * Run alone with `pnpm vitest run --project react-browser` (after `pnpm build`).
 */
import { defineProject } from 'vitest/config'
// By path: vitest loads config files natively, and cannot import a workspace package's
// TypeScript source through its exports as tests do.
import { chromiumBrowser } from '../test-utils/src/chromium/project.js'

export default defineProject({
  test: {
    name: 'react-browser',
    include: ['test/browser/**/*.browser.test.tsx'],
    globalSetup: ['test/browser/globalSetup.ts'],
    // Every wait has its own bound (up to 10 s, for a restart under load).
    testTimeout: 20_000,
    browser: chromiumBrowser(),
  },
})
