import { createServer as createHttpServer } from 'node:http'
import type { Socket } from 'node:net'
import { maxBatchBytes } from '@lifeline/node'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Peer } from '../src/index.js'
import { ProtocolClient, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

/** A server on an HTTP server of the test's, so the test sees the TCP sockets it writes to. */
async function serverWithSockets() {
  const http = createHttpServer()
  const sockets: Socket[] = []
  http.on('connection', (socket: Socket) => sockets.push(socket))
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  fx.add(() => new Promise<void>((resolve) => http.close(() => resolve())))
  const server = createServer({ server: http })
  fx.add(() => server.close())
  await server.ready
  return { server, sockets }
}

/** Counts the writes that reach a socket's handle (one system call each, or a few). */
function countWrites(socket: Socket): { readonly count: number } {
  const counter = { count: 0 }
  const write = socket._write.bind(socket)
  socket._write = (chunk, encoding, callback) => {
    counter.count++
    write(chunk, encoding, callback)
  }
  const writev = socket._writev?.bind(socket)
  if (writev !== undefined) {
    socket._writev = (chunks, callback) => {
      counter.count++
      writev(chunks, callback)
    }
  }
  return counter
}

describe('writes batched per event-loop turn', () => {
  it('sends what one turn sends in a few writes, complete and in order', async () => {
    const { server, sockets } = await serverWithSockets()
    let peer: Peer | undefined
    server.on('connection', (p) => (peer = p))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => peer, { message: 'the peer' })
    const socket = sockets[0] as Socket
    const writes = countWrites(socket)
    const count = 3_000
    const sent = socket.bytesWritten
    for (let n = 1; n <= count; n++) peer?.send('m', n)
    const messages = await client.waitForMessages(count)
    expect(messages.map((frame) => frame.d)).toEqual(messages.map((_, i) => i + 1))
    expect(messages.map((frame) => frame.s)).toEqual(messages.map((_, i) => i + 1))
    // About 100 KB: one write per 64 KiB batch, where `ws` alone makes one per frame.
    const bytes = socket.bytesWritten - sent
    expect(bytes).toBeGreaterThan(maxBatchBytes)
    expect(writes.count).toBeGreaterThan(0)
    expect(writes.count).toBeLessThanOrEqual(Math.ceil(bytes / maxBatchBytes) + 1)
  })

  it('answers a client frame in the turn that read it, without waiting for more', async () => {
    const { server } = await serverWithSockets()
    server.on('connection', (peer) => peer.on('m', (data) => peer.send('echo', data)))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'm', d: 'one', s: 1 })
    expect((await client.next('echo')).d).toBe('one')
    client.send({ t: 'm', d: 'two', s: 2 })
    expect((await client.next('echo')).d).toBe('two')
  })

  it("writes a broadcast's payload as one buffer that every client's frame shares", async () => {
    const { server, sockets } = await serverWithSockets()
    const clients = await Promise.all(
      [1, 2, 3].map(async () => (await ProtocolClient.connect(fx, urlOf(server))).client),
    )
    await waitFor(() => server.peers.size === 3, { message: 'three peers' })
    // The chunks each server-side socket hands to its handle.
    const chunks = new Map<Socket, unknown[]>()
    for (const socket of sockets) {
      const seen: unknown[] = []
      chunks.set(socket, seen)
      const write = socket._write.bind(socket)
      socket._write = (chunk, encoding, callback) => {
        seen.push(chunk)
        write(chunk, encoding, callback)
      }
      const writev = socket._writev?.bind(socket)
      if (writev !== undefined) {
        socket._writev = (list, callback) => {
          for (const { chunk } of list) seen.push(chunk)
          writev(list, callback)
        }
      }
    }
    const news = 'é'.repeat(10_000)
    expect(server.broadcast('news', news)).toBe(3)
    for (const client of clients) {
      const [frame] = await client.waitForMessages(1)
      expect(frame).toMatchObject({ t: 'news', d: news, s: 1 })
    }
    // Each socket got the payload in a buffer of its own size or so, and it is the same buffer.
    const large = [...chunks.values()].map((seen) =>
      seen.filter((chunk) => Buffer.isBuffer(chunk) && chunk.byteLength >= 20_000),
    )
    expect(large.map((found) => found.length)).toEqual([1, 1, 1])
    expect(large[1]?.[0]).toBe(large[0]?.[0])
    expect(large[2]?.[0]).toBe(large[0]?.[0])
  })
})
