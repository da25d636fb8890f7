/**
 * Browser tests of `@lifeline/core` (project `core-browser`): `test/browser/*.browser.test.ts`
 * run in a real headless Chromium, Debian's (`CHROMIUM_PATH`, else `chromium` on PATH), through
 * Playwright; no browser is ever downloaded (the test command's first step,
 * `scripts/prepare-test-env.sh`, installs Debian's when it can). The page uses the browser's
 * own `WebSocket`.
 *
 * `test/browser/globalSetup.ts` runs in Node before the page opens: it starts the `ws` servers
 * on 127.0.0.1 port 0 and a control link the page uses to stop, restart and black-hole them,
 * and hands their ports to the tests with `provide` (read with `inject`). A missing Chromium
 * fails the run there with what to install; it is never skipped.
 *
 * Run alone with `pnpm vitest run --project core-browser` (after `pnpm build`, since core
 * imports `@lifeline/codec` through its package exports); `pnpm test:unit` runs it with the rest.
 */
// By path: vitest loads config files natively, and cannot import a workspace package's
// TypeScript source through its exports as tests do.
import { chromiumBrowser } from '../test-utils/src/chromium/project.js'
import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'core-browser',
    include: ['test/browser/**/*.browser.test.ts'],
    globalSetup: ['test/browser/globalSetup.ts'],
    // Every wait in these tests has its own bound (up to 10 s, for a restart under load) and
    // names what it waited for; the test timeout only has to stay out of their way.
    testTimeout: 15_000,
    browser: chromiumBrowser(),
  },
})
