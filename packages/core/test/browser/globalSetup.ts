import { createFaultProxy, startWsServer } from '@lifeline/test-utils'
import type { FaultProxy, WsServerFixture } from '@lifeline/test-utils'
import type { TestProject } from 'vitest/node'
import { assertChromium } from './chromium.js'
import type { ControlFrame, ControlReply, ControlResults } from './servers.js'

/**
 * Node side of the browser tests. Starts, on 127.0.0.1 port 0:
 * - an echo server,
 * - a restartable server that records what it receives,
 * - a fault proxy in front of the echo server,
 * - a control server the page talks to.
 *
 * How the page controls the servers: over the control server, a plain WebSocket with one JSON
 * request per frame (`{ id, op, ... }`) and one reply per request (`{ id, ok, result | error }`).
 * Browser commands would need the fixtures shared between this module and the config file,
 * which vitest loads as separate module instances; the control link keeps the fixtures, their
 * controls and their teardown in this one file, and the page reaches it with the same
 * `WebSocket` it tests, with no vitest internals in between. Replies are sent only once the
 * action has completed (a stopped listener is closed, a restarted one listens), so the page
 * never has to guess with a sleep.
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
    const control = await startWsServer({
      recordMessages: false,
      onConnection: ({ socket }) =>
        socket.on('message', (data) => {
          void handle(String(data), restartable, proxy).then((reply) =>
            socket.send(JSON.stringify(reply)),
          )
        }),
    })
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

async function handle(
  text: string,
  restartable: WsServerFixture,
  proxy: FaultProxy,
): Promise<ControlReply> {
  let id = -1
  try {
    const frame = JSON.parse(text) as ControlFrame
    id = frame.id
    return { id, ok: true, result: await perform(frame, restartable, proxy) }
  } catch (error) {
    return { id, ok: false, error: error instanceof Error ? error.message : String(error) }
  }
}

async function perform(
  frame: ControlFrame,
  restartable: WsServerFixture,
  proxy: FaultProxy,
): Promise<ControlResults[ControlFrame['op']]> {
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

/** In reverse order of start: the control server first, the proxy before the server behind it. */
async function closeAll(started: { close(): Promise<void> }[]): Promise<void> {
  const failures: unknown[] = []
  for (const resource of started.reverse()) {
    try {
      await resource.close()
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'browser test servers did not close')
}
