import { playwright } from '@vitest/browser-playwright'
import type { BrowserCommand } from 'vitest/node'
import { chromiumPath } from './chromium.js'

export interface ChromiumOptions {
  /** Browser commands the tests call with `commands.<name>()` from `vitest/browser`. */
  readonly commands?: Record<string, BrowserCommand<never[]>>
  /**
   * Lets Chromium behave as it does for users: Playwright launches it with the back/forward
   * cache off and background timer throttling off, which tests of the page's lifecycle must
   * not have.
   * @default false
   */
  readonly pageLifecycle?: boolean
}

/**
 * The `browser` block of a vitest project that runs its tests in Debian's headless Chromium
 * (`chromiumPath`), through Playwright; no browser is ever downloaded. Pair it with a global
 * setup that calls `assertChromium()` first, so a missing browser fails the run with what to
 * install.
 */
export function chromiumBrowser({ commands, pageLifecycle = false }: ChromiumOptions = {}) {
  return {
    enabled: true,
    headless: true,
    screenshotFailures: false,
    ...(commands && { commands }),
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
        ...(pageLifecycle && {
          ignoreDefaultArgs: [
            '--disable-back-forward-cache',
            '--disable-background-timer-throttling',
            '--disable-renderer-backgrounding',
            '--disable-backgrounding-occluded-windows',
          ],
        }),
      },
    }),
    instances: [{ browser: 'chromium' as const }],
  }
}
