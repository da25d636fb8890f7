import type { ReconnectingWebSocket, ReconnectingWebSocketEventMap } from '@lifeline/core'

export { until } from '@lifeline/test-utils/page'

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
