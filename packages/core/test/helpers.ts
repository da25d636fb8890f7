import { createServer } from 'node:net'

export { nextEvent } from '../src/testing/index.js'

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
