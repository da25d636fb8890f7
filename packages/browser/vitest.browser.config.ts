/**
 * Chromium tests of `@lifeline/browser` (project `browser-chromium`): `test/chromium/*.chromium.test.ts`
 * run in Debian's headless Chromium through Playwright, against a real `@lifeline/server` on
 * loopback that `test/chromium/globalSetup.ts` starts (after `pnpm build`). Chromium runs with
 * its back/forward cache and background timer throttling on, as for users (`pageLifecycle`).
 * The tests that need a top-level page (offline, the back/forward cache, a frozen page) drive
 * one of their own through the browser commands of `test/chromium/commands.ts`.
 */
import { defineProject } from 'vitest/config'
// By path: vitest loads config files natively, and cannot import a workspace package's
// TypeScript source through its exports as tests do.
import { chromiumBrowser } from '../test-utils/src/chromium/project.js'
import { labCommands } from './test/chromium/commands.js'

export default defineProject({
  test: {
    name: 'browser-chromium',
    include: ['test/chromium/**/*.chromium.test.ts'],
    globalSetup: ['test/chromium/globalSetup.ts'],
    // Every wait has its own bound and names what it waited for.
    testTimeout: 20_000,
    browser: chromiumBrowser({ commands: labCommands, pageLifecycle: true }),
  },
})
