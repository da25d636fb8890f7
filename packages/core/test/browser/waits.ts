import type { ReconnectingWebSocket, ReconnectingWebSocketEventMap } from '../../src/index.js'

type EventMap = ReconnectingWebSocketEventMap<ReconnectingWebSocket>

/** The next event of a type, or a rejection naming it after `timeoutMs`. */
export function nextEvent<K extends keyof EventMap>(
  socket: ReconnectingWebSocket,
  type: K,
  timeoutMs = 5_000,
): Promise<EventMap[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeEventListener(type, listener)
      reject(new Error(`no '${String(type)}' event within ${timeoutMs} ms`))
    }, timeoutMs)
    const listener = (event: EventMap[K]) => {
      clearTimeout(timer)
      socket.removeEventListener(type, listener)
      resolve(event)
    }
    socket.addEventListener(type, listener)
  })
}

/** Resolves when `predicate` holds; rejects naming `what` after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Fast retries: the backoff rules are unit-tested elsewhere; here they would only slow tests. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
