import { accessSync, constants } from 'node:fs'

/** Debian's Chromium; the browser tests never use a browser downloaded by a test tool. */
export const defaultChromiumPath = '/usr/bin/chromium'

/** The Chromium the browser tests launch: `CHROMIUM_PATH`, else Debian's. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || defaultChromiumPath
}

/**
 * Fails with what to do when Chromium is missing. Without this, Playwright's own message would
 * suggest downloading a browser, which these tests must never do.
 */
export function assertChromium(path = chromiumPath()): void {
  try {
    accessSync(path, constants.X_OK)
  } catch {
    throw new Error(
      `The core-browser tests need Chromium, and there is no executable at ${path}. ` +
        'Install it with `apt-get install -y chromium`, or set CHROMIUM_PATH to a Chromium ' +
        'executable.',
    )
  }
}
