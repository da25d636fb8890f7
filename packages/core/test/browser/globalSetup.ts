import { createFaultProxy, startWsServer } from '@lifeline/test-utils'
import type { FaultProxy, WsServerFixture } from '@lifeline/test-utils'
import { assertChromium, closeAll, startControlServer } from '@lifeline/test-utils/chromium'
import type { TestProject } from 'vitest/node'
import type { ControlRequest, ControlResults } from './servers.js'

/**
 * Node side of the browser tests. Starts, on 127.0.0.1 port 0:
 * - an echo server,
 * - a restartable server that records what it receives,
 * - a fault proxy in front of the echo server,
 * - a control server the page talks to.
 *
 * The page controls the servers over the control link of `@lifeline/test-utils/chromium`
 * (`startControlServer`, which says why it is a WebSocket): a stopped listener is closed, a
 * restarted one listens, before the reply.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // First, so a missing browser fails the run with what to install, before anything starts.
  assertChromium()
  const started: { close(): Promise<void> }[] = []
  try {
    const echo = await startWsServer({
      recordMessages: false,
      onConnection: ({ socket }) =>
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
    })
    started.push(echo)
    const restartable = await startWsServer()
    started.push(restartable)
    const proxy = await createFaultProxy({ targetPort: echo.port })
    started.push(proxy)
    const control = await startControlServer((request: ControlRequest) =>
      perform(request, restartable, proxy),
    )
    started.push(control)
    project.provide('lifelineServers', {
      echoPort: echo.port,
      restartablePort: restartable.port,
      proxyPort: proxy.port,
      controlPort: control.port,
    })
  } catch (error) {
    await closeAll(started)
    throw error
  }
  return () => closeAll(started)
}

async function perform(
  frame: ControlRequest,
  restartable: WsServerFixture,
  proxy: FaultProxy,
): Promise<ControlResults[ControlRequest['op']]> {
  switch (frame.op) {
    case 'stop':
      await restartable.stop()
      return null
    case 'restart':
      await restartable.restart()
      return null
    case 'received': {
      const clients = new Set(
        restartable.connections
          .filter((connection) => connection.request.url === frame.path)
          .map((connection) => connection.index),
      )
      return {
        messages: restartable.messages
          .filter((message) => clients.has(message.client))
          .map((message) => message.text),
        connections: clients.size,
      }
    }
    case 'blackhole':
      proxy.blackhole(frame.on)
      return null
    case 'proxyCounters': {
      const { accepted, bytesToClient } = proxy.counters
      return { accepted, live: proxy.connections, bytesToClient }
    }
    default:
      throw new Error(`unknown control op ${(frame as { op: unknown }).op}`)
  }
}
