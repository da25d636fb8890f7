/**
 * Browser test of `@lifeline/react` (project `react-browser`): `test/browser/*.browser.test.tsx`
 * render with React 19 in Debian's headless Chromium (the one `@lifeline/core`'s browser tests
 * use, found the same way; never a downloaded one), against a real `@lifeline/server` that
 * `test/browser/globalSetup.ts` starts on 127.0.0.1 port 0 and restarts on the page's request.
 *
 * Run alone with `pnpm vitest run --project react-browser` (after `pnpm build`).
 */
import { playwright } from '@vitest/browser-playwright'
import { defineProject } from 'vitest/config'
import { chromiumPath } from '../core/test/browser/chromium.js'

export default defineProject({
  test: {
    name: 'react-browser',
    include: ['test/browser/**/*.browser.test.tsx'],
    globalSetup: ['test/browser/globalSetup.ts'],
    // Every wait has its own bound (up to 10 s, for a restart under load).
    testTimeout: 20_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath: chromiumPath(),
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
})
