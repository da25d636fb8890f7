import type { Browser } from 'playwright'

/**
 * A page of the test browser that Playwright does not drive, for the tests of a hidden or
 * frozen page. Playwright turns on focus emulation for every page it drives, and Chromium keeps
 * such a page visible whatever its window does: `document.visibilityState` stays 'visible' when
 * the window is minimized, and `Page.setWebLifecycleState('frozen')` does nothing, since
 * Chromium freezes hidden pages only. This page lives in a browser context Playwright does not
 * know (Playwright lets such targets go) and is driven through the DevTools protocol alone.
 */
export interface UndrivenPage {
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  evaluate(expression: string): Promise<unknown>
  /** Sends a DevTools protocol command to the page. */
  send(method: string, params?: object): Promise<unknown>
  /** Minimizes its window (the page is hidden, its timers throttled) or restores it. */
  show(visible: boolean): Promise<void>
  /** Freezes the page (hide it first) or resumes it, as Chromium does to background tabs. */
  freeze(frozen: boolean): Promise<void>
  /** Closes the page and its browser context. */
  close(): Promise<void>
}

interface Reply {
  id: number
  result?: unknown
  error?: { message: string }
}

/** Opens `url` in a new undriven page of `browser` (see `UndrivenPage`). */
export async function openUndrivenPage(browser: Browser, url: string): Promise<UndrivenPage> {
  const root = await browser.newBrowserCDPSession()
  // Disposed, with its page, when this session detaches.
  const { browserContextId } = await root.send('Target.createBrowserContext', {
    disposeOnDetach: true,
  })
  const { targetId } = await root.send('Target.createTarget', { url, browserContextId })
  // Not flattened: Playwright's sessions send on their own session id only.
  const { sessionId } = await root.send('Target.attachToTarget', { targetId, flatten: false })
  const { windowId } = await root.send('Browser.getWindowForTarget', { targetId })
  const pending = new Map<number, (reply: Reply) => void>()
  root.on('Target.receivedMessageFromTarget', (event) => {
    if (event.sessionId !== sessionId) return
    const reply = JSON.parse(event.message) as Reply
    pending.get(reply.id)?.(reply)
    pending.delete(reply.id)
  })
  let lastId = 0
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++lastId
      pending.set(id, ({ result, error }) =>
        error ? reject(new Error(`${method}: ${error.message}`)) : resolve(result),
      )
      const message = JSON.stringify({ id, method, params })
      root.send('Target.sendMessageToTarget', { sessionId, message }).catch(reject)
    })
  const setWindowState = async (windowState: 'minimized' | 'normal') => {
    await root.send('Browser.setWindowBounds', { windowId, bounds: { windowState } })
  }
  return {
    send,
    async evaluate(expression) {
      const { result, exceptionDetails } = (await send('Runtime.evaluate', {
        expression,
        returnByValue: true,
        awaitPromise: true,
      })) as { result: { value?: unknown }; exceptionDetails?: { text: string } }
      if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.text}`)
      return result.value
    },
    show: (visible) => setWindowState(visible ? 'normal' : 'minimized'),
    async freeze(frozen) {
      await send('Page.setWebLifecycleState', { state: frozen ? 'frozen' : 'active' })
    },
    close: () => root.detach(),
  }
}
