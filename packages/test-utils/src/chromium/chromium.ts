import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** Debian's Chromium; the browser tests never use a browser downloaded by a test tool. */
export const defaultChromiumPath = '/usr/bin/chromium'

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The Chromium the browser tests launch: `CHROMIUM_PATH`, else `chromium` on `PATH` (where the
 * test command's preparation step, `scripts/prepare-test-env.sh`, looks too), else Debian's.
 */
export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, 'chromium'))) return join(dir, 'chromium')
  }
  return defaultChromiumPath
}

/**
 * Fails with what to do when Chromium is missing. Without this, Playwright's own message would
 * suggest downloading a browser, which these tests must never do.
 */
export function assertChromium(path = chromiumPath()): void {
  if (isExecutable(path)) return
  throw new Error(
    `The Chromium tests need Chromium, and there is no executable at ${path}. ` +
      'Install it with `apt-get install -y chromium`, or set CHROMIUM_PATH to a Chromium ' +
      'executable.',
  )
}
