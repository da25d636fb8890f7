import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startBalancer } from './balancer.js'
import { useFixtures } from './fixtures.js'
import { once } from './wait.js'
import { startWsServer } from './wsServer.js'

const fx = useFixtures(afterEach)

/** A TCP backend that greets each connection with its name, then echoes. */
async function startBackend(name: string): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    // Resets from the balancer (cut, close) are what the tests cause.
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.write(`${name}\n`)
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fx.add(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { port: (server.address() as AddressInfo).port, server }
}

/** A port nobody listens on: connections to it are refused. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A raw TCP client, destroyed after the test. Errors are awaited with `once`, never thrown. */
function dial(port: number): Socket {
  const socket = connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  fx.add(() => socket.destroy())
  return socket
}

/** Connects through the balancer and resolves with the greeting of the backend it reached. */
async function greetingThrough(port: number): Promise<{ name: string; socket: Socket }> {
  const socket = dial(port)
  const [data] = (await once(socket, 'data')) as [Buffer]
  return { name: data.toString().trim(), socket }
}

async function namesOf(port: number, n: number): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < n; i += 1) names.push((await greetingThrough(port)).name)
  return names
}

describe('startBalancer', () => {
  it('spreads new connections round-robin over the backends, no stickiness', async () => {
    const a = await startBackend('a')
    const b = await startBackend('b')
    const c = await startBackend('c')
    const balancer = fx.add(await startBalancer({ backends: [a.port, b.port, { port: c.port }] }))

    expect(await namesOf(balancer.port, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
    expect(balancer.connections).toBe(6)
    expect(balancer.counters).toMatchObject({
      accepted: 6,
      unserved: 0,
      skipped: 0,
      perBackend: {
        [`127.0.0.1:${a.port}`]: 2,
        [`127.0.0.1:${b.port}`]: 2,
        [`127.0.0.1:${c.port}`]: 2,
      },
    })
  })

  it('pipes bytes both ways, WebSocket included', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => socket.on('message', (data) => socket.send(`echo ${data}`)),
      }),
    )
    const balancer = fx.add(await startBalancer({ backends: [server.port] }))
    const client = fx.add(new WebSocket(balancer.url('/chat')))
    await once(client, 'open')
    const reply = once(client, 'message')
    client.send('hello')
    expect(String((await reply)[0])).toBe('echo hello')
    expect(server.connections[0]?.request.url).toBe('/chat')
    expect(balancer.counters.bytesToBackends).toBeGreaterThan(0)
    expect(balancer.counters.bytesToClients).toBeGreaterThan(0)
  })

  it('skips a backend that refuses, and resets the client when every backend does', async () => {
    const a = await startBackend('a')
    const dead = await deadPort()
    const balancer = fx.add(await startBalancer({ backends: [dead, a.port] }))

    expect(await namesOf(balancer.port, 2)).toEqual(['a', 'a'])
    expect(balancer.counters).toMatchObject({ accepted: 2, skipped: 1, unserved: 0 })

    balancer.setBackends([dead])
    const refused = dial(balancer.port)
    const [[error]] = await Promise.all([once(refused, 'error'), once(refused, 'close')])
    expect(error).toMatchObject({ code: 'ECONNRESET' })
    expect(balancer.counters).toMatchObject({ accepted: 2, unserved: 1 })

    balancer.setBackends([])
    const none = dial(balancer.port)
    await once(none, 'close')
    expect(balancer.counters.unserved).toBe(2)
  })

  it('setBackends() applies to new connections; live ones keep their backend', async () => {
    const a = await startBackend('a')
    const b = await startBackend('b')
    const balancer = fx.add(await startBalancer({ backends: [a.port] }))
    const first = await greetingThrough(balancer.port)

    balancer.setBackends([b.port])
    expect(await namesOf(balancer.port, 2)).toEqual(['b', 'b'])
    const echoed = once(first.socket, 'data')
    first.socket.write('still a')
    expect(String((await echoed)[0])).toBe('still a')
  })

  it('cut() resets every live connection and keeps serving; close() ends them all', async () => {
    const a = await startBackend('a')
    const balancer = fx.add(await startBalancer({ backends: [a.port] }))
    const { socket } = await greetingThrough(balancer.port)
    const cutError = once(socket, 'error')
    balancer.cut()
    expect((await cutError)[0]).toMatchObject({ code: 'ECONNRESET' })
    expect(balancer.connections).toBe(0)

    const sockets = await Promise.all([0, 1].map(() => greetingThrough(balancer.port)))
    await balancer.waitForConnections(2)
    const closed = sockets.map(({ socket: s }) => once(s, 'close'))
    await balancer.close()
    await Promise.all(closed)
    expect(balancer.connections).toBe(0)
    const late = dial(balancer.port)
    expect((await once(late, 'error'))[0]).toMatchObject({ code: 'ECONNREFUSED' })
  })
})
