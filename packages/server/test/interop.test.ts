import { msgpack } from '@lifeline/codec/msgpack'
import { createClient, type RpcMethod } from '@lifeline/core'
import { once, startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import WebSocket from 'ws'
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { json, type Codec } from '@lifeline/codec'
import { createMemorySessionStore, createServer, type Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

interface Chat {
  client: { say: { text: string } }
  server: { said: { text: string; from: string } }
  rpc: { count: RpcMethod<{ room: string }, number> }
  clientRpc: { confirm: RpcMethod<{ question: string }, boolean> }
}

describe('codec negotiation', () => {
  it("picks the server's first codec that the client offers", async () => {
    const server = await startServer(fx, { codecs: [msgpack(), json()] })
    const both = await ProtocolClient.connect(
      fx,
      urlOf(server),
      {},
      {
        codec: msgpack(),
        protocols: ['lifeline.v1.json', 'lifeline.v1.msgpack'],
      },
    )
    expect(both.client.socket.protocol).toBe('lifeline.v1.msgpack')
    expect(both.welcome.resumed).toBe(false)
    const jsonOnly = await ProtocolClient.connect(fx, urlOf(server))
    expect(jsonOnly.client.socket.protocol).toBe('lifeline.v1.json')
  })

  it('speaks msgpack in binary frames and refuses text frames there with 1003', async () => {
    const server = await startServer(fx, { codecs: [msgpack()] })
    server.on('connection', (peer) => peer.on('m', (data) => peer.send('echo', data)))
    const { client } = await ProtocolClient.connect(fx, urlOf(server), {}, { codec: msgpack() })
    client.send({ t: 'm', d: new Uint8Array([1, 2, 3]), s: 1 })
    expect((await client.next('echo')).d).toEqual(new Uint8Array([1, 2, 3]))
    client.socket.send('{"t":"m"}')
    expect((await client.waitClose()).code).toBe(1003)
    expect(server.stats.decodeErrors).toBe(1)
  })
})

describe('permessage-deflate', () => {
  // `ws` as a client offers it unless told not to, and every browser offers it.
  it('is declined when a client offers it, and messages flow uncompressed', async () => {
    const offer = (url: string) =>
      fx.add(new WebSocket(url, ['lifeline.v1.json'], { perMessageDeflate: true }))
    // The same offer, to a server that takes it: it is made.
    const deflating = fx.add(await startWsServer({ perMessageDeflate: true }))
    const accepted = offer(deflating.url('/'))
    await once(accepted, 'open')
    expect(accepted.extensions).toContain('permessage-deflate')

    const server = await startServer(fx)
    server.on('connection', (peer) => peer.on('say', (data) => peer.send('said', data)))
    const socket = offer(urlOf(server))
    await once(socket, 'open')
    expect(socket.extensions).toBe('')
    const client = new ProtocolClient(socket, json())
    client.send({ t: '$hello', d: { v: 1 } })
    await client.next('$welcome')
    client.send({ t: 'say', d: { text: 'x'.repeat(1000) }, s: 1 })
    expect((await client.next('said')).d).toEqual({ text: 'x'.repeat(1000) })
  })
})

// An application may hold another copy of the codec than the server's: the CommonJS one beside
// the ESM one (a module that `require`s it), or another version npm installed apart. Its
// `prepare` makes that copy's `Prepared`, which the server's `instanceof` does not know.
describe('codecs of another copy of @lifeline/codec', () => {
  const cjs = createRequire(import.meta.url)
  const copies: [string, () => Codec][] = [
    ['json', () => (cjs('@lifeline/codec') as { json: typeof json }).json()],
    ['msgpack', () => (cjs('@lifeline/codec/msgpack') as { msgpack: typeof msgpack }).msgpack()],
  ]

  it.each(copies)('broadcasts the data itself on %s', async (_, make) => {
    const codec = make()
    const server = await startServer(fx, { codecs: [codec] })
    const { client } = await ProtocolClient.connect(fx, urlOf(server), {}, { codec })
    expect(server.broadcast('news', { text: 'hi' })).toBe(1)
    server.broadcast('news', { text: 'again' }, { reliable: false })
    const [reliable, unreliable] = await client.waitForMessages(2)
    expect([reliable?.d, unreliable?.d]).toEqual([{ text: 'hi' }, { text: 'again' }])
  })
})

describe('with the typed client of @lifeline/core', () => {
  it('messages and RPC both ways', async () => {
    const server = await startServer<Chat>(fx)
    server.handle('count', ({ room }) => room.length)
    server.on('connection', (peer) => {
      peer.on('say', ({ text }) => peer.send('said', { text, from: peer.id }))
    })
    const client = createClient<Chat>({ url: urlOf(server) })
    fx.add(() => client.close())
    client.handle('confirm', ({ question }) => question === 'ok?')
    const said: string[] = []
    client.on('said', ({ text }) => said.push(text))
    client.send('say', { text: 'hi' })
    await waitFor(() => said.length === 1, { message: 'the echo' })
    expect(said).toEqual(['hi'])
    expect(await client.request('count', { room: 'lobby' })).toBe(5)
    const [peer] = [...server.peers.values()] as [Peer<Chat>]
    expect(await peer.request('confirm', { question: 'ok?' })).toBe(true)
  })

  it.each([
    ['json', () => json()],
    ['msgpack', () => msgpack()],
  ])('sends and calls with no payload both ways, as %s', async (_name, codec) => {
    // A `void` payload is left out by the caller (`send('typing')`): it must arrive as
    // `undefined`, neither refused as a malformed frame nor turned into something else.
    interface Signals {
      client: { typing: void }
      server: { refresh: void }
      rpc: { ping: RpcMethod<void, string> }
      clientRpc: { pong: RpcMethod<void, string> }
    }
    const server = await startServer<Signals>(fx, { codecs: [codec()] })
    const heard: unknown[] = []
    server.handle('ping', (data) => `ping ${String(data)}`)
    server.on('connection', (peer) => {
      peer.on('typing', (data) => {
        heard.push(data)
        peer.send('refresh')
      })
    })
    const client = createClient<Signals>({ url: urlOf(server), codecs: [codec()] })
    fx.add(() => client.close())
    const refreshed: unknown[] = []
    client.on('refresh', (data) => refreshed.push(data))
    client.handle('pong', (data) => `pong ${String(data)}`)
    client.send('typing')
    await waitFor(() => refreshed.length === 1, { message: 'the refresh' })
    // Unreliable: sent only once the link is up, as it is now.
    client.send('typing', undefined, { reliable: false })
    await waitFor(() => refreshed.length === 2, { message: 'the second refresh' })
    expect(heard).toEqual([undefined, undefined])
    expect(refreshed).toEqual([undefined, undefined])
    expect(await client.request('ping')).toBe('ping undefined')
    const [peer] = [...server.peers.values()] as [Peer<Signals>]
    expect(await peer.request('pong')).toBe('pong undefined')
    expect(server.stats.decodeErrors).toBe(0)
  })

  it('answers peer.request with a coded error when it cannot answer as asked, and lives', async () => {
    // Before, each of these was an unhandled rejection in the client's process (vitest fails
    // the run on one): a result the codec refuses, and an answer that found the outbox full.
    const server = await startServer<Chat>(fx)
    const peers: Peer<Chat>[] = []
    server.on('connection', (peer) => peers.push(peer))
    const client = createClient<Chat>({ url: urlOf(server), maxUnacked: 3 })
    fx.add(() => client.close())
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    let fill = false
    client.handle('confirm', () => {
      // Three sends the server has not acknowledged yet: the outbox is full when the answer goes.
      if (fill) for (let i = 0; i < 3; i++) client.send('say', { text: `${i}` })
      return 10n as unknown as boolean
    })
    await waitFor(() => client.state.status === 'open' && peers.length === 1, {
      message: 'the session',
    })
    const peer = peers[0] as Peer<Chat>
    await expect(peer.request('confirm', { question: 'ok?' })).rejects.toMatchObject({
      code: 'REMOTE_ERROR',
      remoteCode: 'ENCODE_FAILED',
    })
    fill = true
    await expect(peer.request('confirm', { question: 'ok?' })).rejects.toMatchObject({
      code: 'REMOTE_ERROR',
      remoteCode: 'QUEUE_FULL',
    })
    expect(errors).toEqual(['ENCODE_FAILED', 'QUEUE_FULL'])
    await waitFor(() => client.unacked === 0, { message: 'every message acknowledged' })
    expect(client.state.status).toBe('open')
  })

  it('delivers exactly once, in order, across a restart of the listener', async () => {
    const store = createMemorySessionStore()
    const received: number[] = []
    const start = async (port: number) => {
      const server = createServer<{ client: { n: number } }>({ port, store })
      fx.add(() => server.close())
      server.on('connection', (peer) => peer.on('n', (n) => received.push(n)))
      await server.ready
      return server
    }
    const first = await start(0)
    const port = first.port
    const client = createClient<{ client: { n: number } }>({
      url: `ws://127.0.0.1:${port}/`,
      socket: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    fx.add(() => client.close())
    const resets: unknown[] = []
    client.events.on('reset', (event) => resets.push(event))
    for (let n = 1; n <= 100; n++) client.send('n', n)
    await waitFor(() => received.length >= 50, { message: 'half the messages' })
    await first.close()
    for (let n = 101; n <= 200; n++) client.send('n', n)
    await start(port)
    await waitFor(() => received.length >= 200 && client.unacked === 0, {
      message: () =>
        `200 messages acknowledged (have ${received.length}, ${client.unacked} unacked)`,
    })
    expect(received).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    expect(resets).toEqual([])
  })
})

describe('a one-way stream of large messages', () => {
  // Acknowledgements by bytes (PROTOCOL.md, 5): each side acknowledges once a quarter of the send
  // window has come since its last acknowledgement. The ack timer and count are set so that they
  // never fire here: the stream can only complete through acknowledgements by bytes.
  const never = { ackEvery: 1_000_000, ackDelayMs: 3_600_000 }
  const large = 'x'.repeat(64 * 1024)

  it('client to server, many times the send window, without waiting for the ack timer', async () => {
    const server = await startServer(fx, never)
    let processed = 0
    server.on('connection', (peer) => peer.on('m', () => processed++))
    const client = createClient({ url: urlOf(server), maxUnackedBytes: 16 * 1024 * 1024 })
    fx.add(() => client.close())
    // 4 MiB: eight windows of 512 KiB; before, the first window waited for the server's timer.
    for (let n = 0; n < 64; n++) client.send('m', large)
    await waitFor(() => processed === 64, {
      message: () => `64 processed, ${processed} so far`,
      timeoutMs: 10_000,
    })
    // Acknowledged but for under a quarter window (one frame) at most, which waits for the
    // timer: whatever the frames' sizes add up to, the stream did not.
    await waitFor(() => client.unacked <= 1, {
      message: () => `all but a frame acknowledged, ${client.unacked} unacked`,
      timeoutMs: 10_000,
    })
  }, 25_000)

  it('server to client, many times what the server lets go unacknowledged, on one link', async () => {
    // The client is a slow consumer past 1 MiB unacknowledged: 2 MiB go through only if it
    // acknowledges as it reads (every 32 KiB, a quarter of the 128 KiB window).
    const server = await startServer(fx, {
      outboundHighWaterBytes: 256 * 1024,
      maxOutboundBytes: 1024 * 1024,
    })
    const client = createClient({ url: urlOf(server), ...never })
    fx.add(() => client.close())
    let received = 0
    client.on('m', () => received++)
    let opened = 0
    client.socket.addEventListener('open', () => opened++)
    const total = 32
    server.on('connection', (peer) => {
      void (async () => {
        for (let n = 1; n <= total; n++) {
          // A few frames ahead of the client at most, whatever the kernel's buffers would take.
          await waitFor(() => received >= n - 4, { message: `the client to read ${n - 4}` })
          peer.send('m', large)
        }
        // A client that stopped reading fails the test below, which says so.
      })().catch(() => undefined)
    })
    await waitFor(() => received === total, {
      message: () => `${total} received, ${received} so far`,
      timeoutMs: 10_000,
    })
    expect(opened).toBe(1)
    expect(server.stats.slowConsumers).toBe(0)
  }, 15_000)
})
