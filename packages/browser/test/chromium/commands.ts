/**
 * Browser commands of the Chromium tests: they run in Node, with Playwright, and drive a
 * top-level page of their own (`/lab.html`, in a browser context of its own so that going
 * offline leaves the test runner's page alone). One lab page at a time.
 */
import type { BrowserContext, CDPSession, Page } from 'playwright'
import type { BrowserCommand } from 'vitest/node'

interface Lab {
  context: BrowserContext
  page: Page
  cdp: CDPSession
}

let current: Lab | undefined

function lab(): Lab {
  if (!current) throw new Error('no lab page: call labOpen first')
  return current
}

/** Opens `url` (the lab page) in a new browser context and waits for `window.lab`. */
const labOpen: BrowserCommand<[url: string]> = async ({ page }, url) => {
  await current?.context.close()
  current = undefined
  const browser = page.context().browser()
  if (!browser) throw new Error('no browser to open a context in')
  const context = await browser.newContext()
  const labPage = await context.newPage()
  await labPage.goto(url)
  await labPage.waitForFunction(() => 'lab' in window)
  current = { context, page: labPage, cdp: await context.newCDPSession(labPage) }
}

/** Evaluates `expression` in the lab page and returns its (JSON) value. */
const labEval: BrowserCommand<[expression: string]> = async (_context, expression) =>
  lab().page.evaluate(expression)

/** Takes the whole lab context offline (`navigator.onLine` false, no network) or back. */
const labOffline: BrowserCommand<[offline: boolean]> = async (_context, offline) =>
  lab().context.setOffline(offline)

/**
 * Navigates the lab page to `awayUrl` and back. Resolves once the page is shown again, with
 * whether it came from the back/forward cache.
 */
const labAwayAndBack: BrowserCommand<[awayUrl: string]> = async (_context, awayUrl) => {
  const { page } = lab()
  await page.goto(awayUrl)
  await page.goBack({ waitUntil: 'commit' })
  await page.waitForFunction(() => 'lab' in window)
  const log = (await page.evaluate('lab.log')) as string[]
  return { persisted: log.includes('pageshow:true'), log }
}

/**
 * Stops every script of the lab page for `ms`, through the DevTools protocol: no timer, no
 * event handler runs, as in a frozen page; what arrives meanwhile waits. Returns the wall-clock
 * time (ms since the epoch) when it let the page go again.
 */
const labPause: BrowserCommand<[ms: number]> = async (_context, ms) => {
  const { cdp, page } = lab()
  await cdp.send('Debugger.enable')
  await cdp.send('Debugger.pause')
  // Something must run for the pause to take hold; the page's own timers would, but not at once.
  void page.evaluate('0').catch(() => {})
  await new Promise((resolve) => setTimeout(resolve, ms))
  const resumedAt = Date.now()
  await cdp.send('Debugger.resume')
  await cdp.send('Debugger.disable')
  return resumedAt
}

/** Closes the lab page and its context. */
const labClose: BrowserCommand<[]> = async () => {
  const closing = current
  current = undefined
  await closing?.context.close()
}

export const labCommands = { labOpen, labEval, labOffline, labAwayAndBack, labPause, labClose }

declare module 'vitest/browser' {
  interface BrowserCommands {
    labOpen(url: string): Promise<void>
    labEval(expression: string): Promise<unknown>
    labOffline(offline: boolean): Promise<void>
    labAwayAndBack(awayUrl: string): Promise<{ persisted: boolean; log: string[] }>
    labPause(ms: number): Promise<number>
    labClose(): Promise<void>
  }
}
