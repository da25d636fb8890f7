import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer } from '@lifeline/server'
import { startWsServer } from '@lifeline/test-utils'
import type { TestProject } from 'vitest/node'
import { assertChromium } from '@lifeline/test-utils/chromium'
import type { Echo } from './schema.js'

/**
 * Node side of the browser test: a Lifeline server on 127.0.0.1 port 0 that answers `say` with
 * `said` (numbered) and implements `add`, and a control server on which the page asks for a
 * restart: the listener closes (clients are told 1012) and listens again on the same port with
 * the same session store, and the reply comes once it listens, so the page never sleeps.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertChromium()
  const store = createMemorySessionStore()
  let port = 0
  let said = 0
  let server: LifelineServer<Echo>
  const listen = async () => {
    server = createServer<Echo>({ port, store })
    await server.ready
    port = server.port
    server.on('connection', (peer) =>
      peer.on('say', ({ text }) => peer.send('said', { text, n: ++said })),
    )
    server.handle('add', ({ a, b }) => a + b)
  }
  await listen()
  const control = await startWsServer({
    recordMessages: false,
    onConnection: ({ socket }) =>
      socket.on('message', () => {
        void server
          .close()
          .then(listen)
          .then(
            () => socket.send('restarted'),
            (error: unknown) => socket.send(`failed: ${String(error)}`),
          )
      }),
  })
  project.provide('reactServers', { port, controlPort: control.port })
  return async () => {
    await control.close()
    await server.close()
  }
}
