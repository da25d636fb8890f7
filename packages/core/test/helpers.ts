import { createServer } from 'node:net'
import type { ReconnectingWebSocket, ReconnectingWebSocketEventMap } from '../src/index.js'

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

/** Fast retries for tests against real servers: the backoff rules are unit-tested elsewhere. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const

/** A port on 127.0.0.1 that nothing listens on: bound to port 0, read, released. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
