import type { ReconnectingWebSocket } from '../reconnectingWebSocket.js'
import type { ReconnectingWebSocketEventMap } from '../socketEvents.js'

type EventMap = ReconnectingWebSocketEventMap<ReconnectingWebSocket>

/**
 * The next event of `type` from a socket, or a rejection naming the event after `timeoutMs`: for
 * tests over real servers, where a wait must end with a reason rather than the test's timeout.
 * The listener and the timer are removed either way. The default is below the 5 s a test has in
 * Vitest and Jest, or the test's timeout would come first; a longer wait passes its own, under
 * its test's.
 */
export function nextEvent<K extends keyof EventMap>(
  socket: ReconnectingWebSocket,
  type: K,
  timeoutMs = 2_000,
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
