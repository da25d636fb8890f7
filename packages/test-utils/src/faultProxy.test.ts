import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createFaultProxy } from './faultProxy.js'
import { useFixtures } from './fixtures.js'
import { TimeoutError, expectNoEvent, once, waitFor } from './wait.js'
import { startWsServer } from './wsServer.js'
import type { WsServerFixture } from './wsServer.js'

const fx = useFixtures(afterEach)

function startEchoServer(): Promise<WsServerFixture> {
  return startWsServer({
    onConnection: ({ socket }) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
    },
  })
}

async function setup() {
  const server = fx.add(await startEchoServer())
  const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
  return { server, proxy }
}

async function openClient(url: string): Promise<WebSocket> {
  const client = fx.add(new WebSocket(url))
  await once(client, 'open')
  return client
}

async function echo(client: WebSocket, text: string): Promise<string> {
  const reply = once(client, 'message')
  client.send(text)
  const [data] = await reply
  return String(data)
}

/** Connects a client that is expected to fail, and returns its error and close code. */
async function failedConnect(url: string): Promise<{ error: unknown; code: unknown }> {
  const client = fx.add(new WebSocket(url))
  const [[error], [code]] = await Promise.all([once(client, 'error'), once(client, 'close')])
  return { error, code }
}

describe('createFaultProxy', () => {
  it('forwards text and binary frames both ways and counts them', async () => {
    const { server, proxy } = await setup()
    const client = await openClient(proxy.url('/chat?room=1'))

    expect(await echo(client, 'hello')).toBe('hello')
    const binaryReply = once(client, 'message')
    client.send(Buffer.from([1, 2, 3]))
    const [data, isBinary] = await binaryReply
    expect(isBinary).toBe(true)
    expect([...(data as Buffer)]).toEqual([1, 2, 3])

    const messages = await server.waitForMessages(2)
    expect(messages.map((m) => [m.text, m.isBinary, m.client])).toEqual([
      ['hello', false, 0],
      ['\u0001\u0002\u0003', true, 0],
    ])
    expect(server.connections[0]?.request.url).toBe('/chat?room=1')
    expect(proxy.connections).toBe(1)
    expect(proxy.counters).toMatchObject({ accepted: 1, refused: 0, bytesDropped: 0 })
    expect(proxy.counters.bytesToTarget).toBeGreaterThan(0)
    expect(proxy.counters.bytesToClient).toBeGreaterThan(0)
  })

  it('cut() resets every link (client close 1006) and keeps accepting', async () => {
    const { server, proxy } = await setup()
    const client = await openClient(proxy.url())
    const { socket } = await server.waitForConnection()

    const clientClosed = once(client, 'close')
    const serverClosed = once(socket, 'close')
    proxy.cut()
    expect(proxy.connections).toBe(0)
    const [[clientCode], [serverCode]] = await Promise.all([clientClosed, serverClosed])
    expect(clientCode).toBe(1006)
    expect(serverCode).toBe(1006)

    const again = await openClient(proxy.url())
    expect(await echo(again, 'after cut')).toBe('after cut')
    expect(proxy.counters.accepted).toBe(2)
  })

  it('blackhole() stalls current and new links while both ends stay open', async () => {
    const { server, proxy } = await setup()
    const client = await openClient(proxy.url())
    const { socket } = await server.waitForConnection()

    proxy.blackhole()
    client.send('lost upstream')
    socket.send('lost downstream')
    const late = fx.add(new WebSocket(proxy.url()))
    await Promise.all([
      expectNoEvent(socket, 'message', 150),
      expectNoEvent(client, 'message', 150),
      expectNoEvent(late, 'open', 150),
    ])
    expect(client.readyState).toBe(WebSocket.OPEN)
    expect(socket.readyState).toBe(WebSocket.OPEN)
    expect(late.readyState).toBe(WebSocket.CONNECTING)
    expect(server.connections).toHaveLength(1)
    expect(proxy.connections).toBe(2)
    await waitFor(() => proxy.counters.bytesDropped > 0, { message: 'dropped bytes' })

    // New links forward again; the black-holed one stays dead.
    proxy.blackhole(false)
    const fresh = await openClient(proxy.url())
    expect(await echo(fresh, 'fresh')).toBe('fresh')
    client.send('still lost')
    await expectNoEvent(client, 'message', 100)
    expect(server.messages.map((m) => m.text)).toEqual(['fresh'])
  })

  it('blackhole(true, direction) stalls one direction and keeps the other forwarding', async () => {
    const { server, proxy } = await setup()
    const upstreamDead = await openClient(proxy.url())
    const { socket: upstreamDeadServer } = await server.waitForConnection()

    proxy.blackhole(true, 'toTarget')
    upstreamDead.send('lost upstream')
    const heard = once(upstreamDead, 'message')
    upstreamDeadServer.send('still downstream')
    expect(String((await heard)[0])).toBe('still downstream')
    await expectNoEvent(upstreamDeadServer, 'message', 150)
    await waitFor(() => proxy.counters.bytesDropped > 0, { message: 'dropped bytes' })
    // A link accepted meanwhile stalls the same way: its upgrade request never arrives.
    const late = fx.add(new WebSocket(proxy.url()))
    await expectNoEvent(late, 'open', 150)
    expect(server.connections).toHaveLength(1)

    proxy.blackhole(false, 'toTarget')
    proxy.blackhole(true, 'toClient')
    const downstreamDead = fx.add(new WebSocket(proxy.url()))
    const { socket: downstreamDeadServer } = await server.waitForConnection()
    // The server accepted the upgrade, but its answer goes nowhere.
    await expectNoEvent(downstreamDead, 'open', 150)
    expect(downstreamDead.readyState).toBe(WebSocket.CONNECTING)
    downstreamDeadServer.send('lost downstream')
    await expectNoEvent(downstreamDead, 'message', 100)

    proxy.blackhole(false, 'toClient')
    const fresh = await openClient(proxy.url())
    expect(await echo(fresh, 'fresh')).toBe('fresh')
    // The first link, black-holed one way and then the other, is dead both ways for good.
    upstreamDeadServer.send('lost downstream too')
    await expectNoEvent(upstreamDead, 'message', 100)
    expect(server.messages.map((m) => m.text)).toEqual(['fresh'])
  })

  it('refuse() fails new connections and leaves existing links working', async () => {
    const { server, proxy } = await setup()
    const client = await openClient(proxy.url())

    proxy.refuse()
    const { error, code } = await failedConnect(proxy.url())
    expect(error).toMatchObject({ code: 'ECONNRESET' })
    expect(code).toBe(1006)
    expect(proxy.counters.refused).toBe(1)
    expect(server.connections).toHaveLength(1)
    expect(await echo(client, 'still here')).toBe('still here')

    proxy.refuse(false)
    const next = await openClient(proxy.url())
    expect(await echo(next, 'back')).toBe('back')
  })

  it('setLatencyMs() delays each direction and preserves order', async () => {
    const { proxy } = await setup()
    const client = await openClient(proxy.url())

    proxy.setLatencyMs(50)
    const startedAt = performance.now()
    expect(await echo(client, 'ping')).toBe('ping')
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(100)

    // Lowering the latency while frames are in flight must not let later frames overtake.
    const received: string[] = []
    client.on('message', (data) => received.push(String(data)))
    for (let i = 0; i < 10; i++) client.send(`slow ${i}`)
    proxy.setLatencyMs(0)
    for (let i = 0; i < 10; i++) client.send(`fast ${i}`)
    await waitFor(() => received.length === 20, { message: '20 echoes' })
    expect(received).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `slow ${i}`),
      ...Array.from({ length: 10 }, (_, i) => `fast ${i}`),
    ])
  })

  it('setTarget() sends new connections to another server, old links stay', async () => {
    const { server: first, proxy } = await setup()
    const second = fx.add(await startEchoServer())
    const oldClient = await openClient(proxy.url())

    proxy.setTarget(second.port)
    const newClient = await openClient(proxy.url())
    expect(await echo(newClient, 'to second')).toBe('to second')
    expect(await echo(oldClient, 'to first')).toBe('to first')
    expect(first.messages.map((m) => m.text)).toEqual(['to first'])
    expect(second.messages.map((m) => m.text)).toEqual(['to second'])
  })

  it('resets the client when the target is down', async () => {
    const server = await startEchoServer()
    const port = server.port
    await server.close()
    const proxy = fx.add(await createFaultProxy({ targetPort: port }))

    const { code } = await failedConnect(proxy.url())
    expect(code).toBe(1006)
    await proxy.waitForConnections(0)
  })

  it('waitForConnections() resolves on the exact count and times out loudly', async () => {
    const { proxy } = await setup()
    const client = fx.add(new WebSocket(proxy.url()))
    await proxy.waitForConnections(1)

    const error: unknown = await proxy.waitForConnections(2, 50).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(String(error)).toContain('Timed out after 50 ms waiting for 2 live proxy connection(s)')

    client.terminate()
    await proxy.waitForConnections(0)
  })

  it('close() is idempotent, frees the port and leaves no handles', async () => {
    const tcpHandles = () =>
      process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length
    const before = tcpHandles()

    const server = await startEchoServer()
    const proxy = await createFaultProxy({ targetPort: server.port })
    proxy.setLatencyMs(5)
    const client = new WebSocket(proxy.url())
    await once(client, 'open')
    expect(await echo(client, 'x')).toBe('x')
    expect(tcpHandles()).toBeGreaterThan(before)

    const closing = proxy.close()
    expect(proxy.close()).toBe(closing)
    await closing
    const [code] = await once(client, 'close')
    expect(code).toBe(1006)
    await server.close()
    expect(tcpHandles()).toBe(before)

    const { error } = await failedConnect(proxy.url())
    expect(error).toMatchObject({ code: 'ECONNREFUSED' })
  })
})
