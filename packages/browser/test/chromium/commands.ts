/**
 * Browser commands of the Chromium tests: they run in Node, with Playwright, and drive a
 * top-level page of their own (`/lab.html`, in a browser context of its own so that going
 * offline leaves the test runner's page alone). One lab page at a time: one Playwright drives
 * (offline, navigation), or an undriven one (`openUndrivenPage`), which can be hidden and frozen.
 */
import type { BrowserContext, Page } from 'playwright'
import type { BrowserCommand } from 'vitest/node'
// By path: the config loads this file natively, and cannot import a workspace package's
// TypeScript source through its exports (see vitest.browser.config.ts).
import { openUndrivenPage } from '../../../test-utils/src/chromium/undrivenPage.js'
import type { UndrivenPage } from '../../../test-utils/src/chromium/undrivenPage.js'
import { until } from '../../../test-utils/src/page/control.js'

interface Lab {
  evaluate(expression: string): Promise<unknown>
  close(): Promise<void>
  driven?: { context: BrowserContext; page: Page }
  undriven?: UndrivenPage
}

let current: Lab | undefined

function lab(): Lab {
  if (!current) throw new Error('no lab page: call labOpen first')
  return current
}

const driven = () => lab().driven ?? raise('the lab page is undriven: open it with labOpen(url)')
const undriven = () =>
  lab().undriven ?? raise('the lab page is driven: open it with labOpen(url, true)')
function raise(message: string): never {
  throw new Error(message)
}

/**
 * Opens `url` (the lab page) in a new browser context, driven by Playwright or, with `hideable`,
 * an undriven page, and waits for `window.lab`.
 */
const labOpen: BrowserCommand<[url: string, hideable?: boolean]> = async (
  { page },
  url,
  hideable = false,
) => {
  await current?.close()
  current = undefined
  const browser = page.context().browser()
  if (!browser) throw new Error('no browser to open a context in')
  if (hideable) {
    const undriven = await openUndrivenPage(browser, url)
    current = {
      evaluate: (expression) => undriven.evaluate(expression),
      close: () => undriven.close(),
      undriven,
    }
    await until(async () => (await undriven.evaluate(`'lab' in window`)) === true, 'window.lab')
    return
  }
  const context = await browser.newContext()
  const labPage = await context.newPage()
  current = {
    evaluate: (expression) => labPage.evaluate(expression),
    close: () => context.close(),
    driven: { context, page: labPage },
  }
  await labPage.goto(url)
  await labPage.waitForFunction(() => 'lab' in window)
}

/** Evaluates `expression` in the lab page and returns its (JSON) value. */
const labEval: BrowserCommand<[expression: string]> = async (_context, expression) =>
  lab().evaluate(expression)

/** Takes the whole lab context offline (`navigator.onLine` false, no network) or back. */
const labOffline: BrowserCommand<[offline: boolean]> = async (_context, offline) =>
  driven().context.setOffline(offline)

/**
 * Navigates the lab page to `awayUrl` and back. Resolves once the page is shown again, with
 * whether it came from the back/forward cache.
 */
const labAwayAndBack: BrowserCommand<[awayUrl: string]> = async (_context, awayUrl) => {
  const { page } = driven()
  await page.goto(awayUrl)
  await page.goBack({ waitUntil: 'commit' })
  await page.waitForFunction(() => 'lab' in window)
  const log = (await page.evaluate('lab.log')) as string[]
  return { persisted: log.includes('pageshow:true'), log }
}

/** Minimizes the undriven lab page's window (the page is hidden) or restores it. */
const labShow: BrowserCommand<[visible: boolean]> = async (_context, visible) =>
  undriven().show(visible)

/** Freezes the undriven lab page (hidden first) or resumes it. */
const labFreeze: BrowserCommand<[frozen: boolean]> = async (_context, frozen) =>
  undriven().freeze(frozen)

/** Closes the lab page and its context. */
const labClose: BrowserCommand<[]> = async () => {
  const closing = current
  current = undefined
  await closing?.close()
}

export const labCommands = {
  labOpen,
  labEval,
  labOffline,
  labAwayAndBack,
  labShow,
  labFreeze,
  labClose,
}

declare module 'vitest/browser' {
  interface BrowserCommands {
    labOpen(url: string, hideable?: boolean): Promise<void>
    labEval(expression: string): Promise<unknown>
    labOffline(offline: boolean): Promise<void>
    labAwayAndBack(awayUrl: string): Promise<{ persisted: boolean; log: string[] }>
    labShow(visible: boolean): Promise<void>
    labFreeze(frozen: boolean): Promise<void>
    labClose(): Promise<void>
  }
}
