import { Agent } from 'node:http'
import type { ClientRequestArgs } from 'node:http'
import { connect, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { afterEach, expect, it } from 'vitest'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { BatchingWebSocket } from '../src/batchingWebSocket.js'
import { maxGatheredPayload } from '../src/frames.js'
import { LifelineError, ReconnectingWebSocket } from '../src/index.js'
import { maxBatchBytes } from '../src/writeBatch.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

/**
 * An agent whose connections count their writes, and what reaches the kernel: a write made
 * while the stream is not corked is one, and the writes a cork held are one together (`ws`
 * corks around a frame's two parts itself). The net.Socket the handshake runs on is the one
 * `ws` writes to.
 */
class Watching extends Agent {
  writes = 0
  systemWrites = 0
  stream: Socket | undefined

  override createConnection(
    options: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex {
    const stream = (this.stream = super.createConnection(options, callback) as Socket)
    const { uncork, write } = stream
    stream.uncork = () => {
      if (stream.writableCorked === 1 && stream.writableLength > 0) this.systemWrites++
      uncork.call(stream)
    }
    stream.write = ((...args: unknown[]) => {
      this.writes++
      if (!stream.writableCorked) this.systemWrites++
      return (write as (...args: unknown[]) => boolean).apply(stream, args)
    }) as typeof write
    return stream
  }
}

it('writes a flushed backlog and a turn of sends in a few writes, in order', async () => {
  const count = 5000
  const server = fx.add(await startWsServer())
  const agent = new Watching()
  const socket = fx.add(
    new ReconnectingWebSocket(server.url('/'), null, {
      ...quickRetry,
      agent,
      startClosed: true,
      queue: { maxMessages: count, maxBytes: count * 100 },
    }),
  )
  const texts = () => server.messages.map((message) => message.text)
  for (let i = 0; i < count; i++) socket.send(`message ${i}`)
  socket.reconnect()
  await nextEvent(socket, 'open')
  agent.writes = 0
  await waitFor(() => server.messages.length === count, { message: `${count} messages` })
  expect(texts().every((data, i) => data === `message ${i}`)).toBe(true)
  // A write per turn of the flush, which yields when it has run long (it reads the clock every
  // 256 sends), and per 64 KiB; one more if the turn's buffer did not start empty.
  const bytes = (from: number) =>
    Array.from({ length: count }, (_, i) => `message ${from + i}`.length + 6).reduce(
      (a, b) => a + b,
    )
  expect(agent.writes).toBeLessThanOrEqual(
    Math.ceil(count / 256) + Math.ceil(bytes(0) / maxBatchBytes) + 1,
  )
  // Sends made in one turn on an open link leave together too, and arrive in order.
  agent.writes = 0
  for (let i = count; i < 2 * count; i++) socket.send(`message ${i}`)
  await waitFor(() => server.messages.length === 2 * count, { message: `${2 * count} messages` })
  expect(texts().every((data, i) => data === `message ${i}`)).toBe(true)
  // 64 KiB at a time (one more if the turn's buffer did not start empty).
  expect(agent.writes).toBeLessThanOrEqual(Math.ceil(bytes(count) / maxBatchBytes) + 1)
})

it('sends a turn of text and binary messages as one write, and what ws frames itself after', async () => {
  const server = fx.add(await startWsServer())
  const agent = new Watching()
  const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, { ...quickRetry, agent }))
  await nextEvent(socket, 'open')
  const short = (i: number) => `${i} ${'é€😀 '.repeat(200)}`
  const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6])
  agent.writes = 0
  for (let i = 0; i < 10; i++) socket.send(short(i))
  socket.send(bytes)
  socket.send(bytes.buffer)
  socket.send(new DataView(bytes.buffer, 2, 3))
  await waitFor(() => server.messages.length === 13, { message: '13 messages' })
  expect(agent.writes).toBe(1)
  // Past maxGatheredPayload, `ws` frames the message, after those gathered before it.
  const long = 'x'.repeat(maxGatheredPayload / 3 + 1)
  agent.systemWrites = 0
  socket.send('before')
  socket.send(long)
  socket.send('after')
  await waitFor(() => server.messages.length === 16, { message: '16 messages' })
  expect(agent.systemWrites).toBe(1)
  expect(server.messages.map((message) => [message.text, message.isBinary])).toEqual([
    ...Array.from({ length: 10 }, (_, i) => [short(i), false]),
    ...[bytes, bytes, bytes.subarray(2, 5)].map((data) => [Buffer.from(data).toString(), true]),
    ['before', false],
    [long, false],
    ['after', false],
  ])
})

it('counts what a turn gathered in bufferedAmount until it is written', async () => {
  const server = fx.add(await startWsServer())
  const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
  await nextEvent(socket, 'open')
  for (let i = 0; i < 10; i++) socket.send('x'.repeat(100))
  // 10 frames of a 6-byte header (masking key included) and 100 bytes.
  expect(socket.bufferedAmount).toBe(1060)
  await waitFor(() => socket.bufferedAmount === 0, { message: 'written' })
  await server.waitForMessages(10)
})

/** A raw `ws` client of this package's class and the server's record of what came, in order. */
async function rawLink(options: { perMessageDeflate?: { threshold: number } } = {}) {
  const seen: string[] = []
  const server = fx.add(
    await startWsServer({
      perMessageDeflate: options.perMessageDeflate !== undefined,
      onConnection: ({ socket }) => {
        socket.on('message', (data) => seen.push(`message ${String(data)}`))
        socket.on('ping', (data) => seen.push(`ping ${String(data)}`))
        socket.on('pong', (data) => seen.push(`pong ${String(data)}`))
        socket.on('close', (code) => seen.push(`close ${code}`))
      },
    }),
  )
  const agent = new Watching()
  const socket = new BatchingWebSocket(server.url('/'), { agent, ...options })
  fx.add(() => socket.terminate())
  await new Promise((resolve) => socket.once('open', resolve))
  return { server, socket, seen, agent }
}

it('writes pings, pongs and the close frame after the frames gathered before them', async () => {
  const { socket, seen } = await rawLink()
  socket.send('a')
  socket.ping('p')
  socket.send('b')
  socket.pong('q')
  socket.send('c')
  socket.close(1000)
  await waitFor(() => seen.includes('close 1000'), { message: 'the close frame' })
  expect(seen).toEqual(['message a', 'ping p', 'message b', 'pong q', 'message c', 'close 1000'])
})

it("answers a ping after what it sent in the same turn (ws's automatic pong)", async () => {
  const { socket, seen, agent } = await rawLink()
  socket.on('message', () => socket.send('reply'))
  // The message and the ping in one read, as the server would send them: the reply is gathered
  // and the pong, which ws writes itself in the same turn, must come after it.
  agent.stream?.emit('data', Buffer.from([0x81, 2, ...Buffer.from('go'), 0x89, 1, 0x70]))
  await waitFor(() => seen.length === 2, { message: 'the reply and the pong' })
  expect(seen).toEqual(['message reply', 'pong p'])
})

it('keeps the order of messages after a Blob ping or pong, which ws reads before framing', async () => {
  const { socket, seen } = await rawLink()
  socket.send('a')
  socket.ping(new Blob(['p']))
  socket.send('b')
  socket.pong(new Blob(['q']))
  socket.send('c')
  await waitFor(() => seen.length === 5, { message: '5 frames' })
  expect(seen).toEqual(['message a', 'ping p', 'message b', 'pong q', 'message c'])
})

/**
 * A connection that is not a net.Socket: it takes each chunk at once and passes it on to the
 * server later, keeping the chunk itself until then, as an in-memory pair of streams does.
 */
class Relaying extends Agent {
  override createConnection(options: ClientRequestArgs): Duplex {
    const tcp = connect(Number(options.port), '127.0.0.1')
    const kept: Buffer[] = []
    const stream = new Duplex({
      write(chunk: Buffer, _encoding, callback) {
        if (kept.push(chunk) === 1) setImmediate(() => tcp.write(Buffer.concat(kept.splice(0))))
        callback()
      },
      read() {},
      final(callback) {
        tcp.end()
        callback()
      },
      destroy(error, callback) {
        tcp.destroy()
        callback(error)
      },
    })
    tcp.on('data', (data) => stream.push(data))
    tcp.on('end', () => stream.push(null))
    tcp.on('error', (error) => stream.destroy(error))
    return stream
  }
}

it('sends intact messages over a connection that keeps the chunks written to it', async () => {
  const server = fx.add(await startWsServer())
  const socket = new BatchingWebSocket(server.url('/'), { agent: new Relaying() })
  fx.add(() => socket.terminate())
  await new Promise((resolve) => socket.once('open', resolve))
  // A turn each: the next turn's frames must not be written over those still kept.
  for (let i = 0; i < 20; i++) {
    socket.send(`message ${i}`)
    await null
  }
  await server.waitForMessages(20)
  expect(server.messages.map((message) => message.text)).toEqual(
    Array.from({ length: 20 }, (_, i) => `message ${i}`),
  )
})

it('keeps the order of messages after a Blob, which ws reads before framing', async () => {
  const { socket, seen } = await rawLink()
  socket.send('a')
  socket.send(new Blob(['blob']))
  socket.send('b')
  socket.send(Buffer.from('c'))
  await waitFor(() => seen.length === 4, { message: '4 messages' })
  expect(seen).toEqual(['message a', 'message blob', 'message b', 'message c'])
})

it('leaves framing to ws when the link compresses, which it does asynchronously', async () => {
  const { socket, seen } = await rawLink({ perMessageDeflate: { threshold: 0 } })
  expect(socket.extensions).toContain('permessage-deflate')
  const large = 'x'.repeat(50_000)
  socket.send(large)
  socket.send('small')
  await waitFor(() => seen.length === 2, { message: '2 messages' })
  expect(seen).toEqual([`message ${large}`, 'message small'])
})

it('writes what a turn gathered before the stream ends when the peer ends its side', async () => {
  const { socket, seen, agent } = await rawLink()
  socket.send('a')
  socket.send('b')
  // What the peer's FIN does: `ws` ends its side of the stream at once.
  agent.stream?.emit('end')
  await waitFor(() => seen.some((event) => event.startsWith('close')), { message: 'the close' })
  expect(seen.slice(0, 2)).toEqual(['message a', 'message b'])
})

it('delivers what a turn sent, and the close code, before a link it drops with reconnect() or failLink()', async () => {
  const closes: number[] = []
  const server = fx.add(
    await startWsServer({
      onConnection: ({ socket }) => socket.on('close', (code) => closes.push(code)),
    }),
  )
  const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
  await nextEvent(socket, 'open')
  // A message framed here and one left to `ws`, then the link dropped in the same turn: the
  // stream still holds them (and the close frame) when it is destroyed.
  socket.send('gathered')
  socket.send('x'.repeat(2 * maxGatheredPayload))
  socket.reconnect(4001, 'new token')
  await nextEvent(socket, 'open')
  socket.send('second link')
  socket.failLink(new LifelineError('PROTOCOL_ERROR', 'bad frame'), 4002, 'violation')
  await waitFor(() => closes.length === 2, { message: 'both links closed on the server' })
  expect(server.messages.map((message) => [message.client, message.text.slice(0, 11)])).toEqual([
    [0, 'gathered'],
    [0, 'xxxxxxxxxxx'],
    [1, 'second link'],
  ])
  expect(closes).toEqual([4001, 4002])
})
