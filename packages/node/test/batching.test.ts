import { Agent } from 'node:http'
import type { ClientRequestArgs } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterEach, expect, it } from 'vitest'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket } from '../src/index.js'
import { maxJoinedText } from '../src/link.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

/**
 * An agent whose connections count the most writes one outermost cork held (`ws` corks around
 * a frame's two parts itself): the net.Socket the handshake runs on is the one `ws` writes to.
 */
class Watching extends Agent {
  mostWritesInOneCork = 0

  override createConnection(
    options: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex {
    const stream = super.createConnection(options, callback) as Socket
    const { cork, uncork, write } = stream
    let depth = 0
    let writes = 0
    stream.cork = () => {
      if (depth++ === 0) writes = 0
      cork.call(stream)
    }
    stream.uncork = () => {
      if (--depth === 0) this.mostWritesInOneCork = Math.max(this.mostWritesInOneCork, writes)
      uncork.call(stream)
    }
    stream.write = ((...args: unknown[]) => {
      writes++
      return (write as (...args: unknown[]) => boolean).apply(stream, args)
    }) as typeof write
    return stream
  }
}

it('writes a flushed backlog and a turn of sends many frames to a write, in order', async () => {
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
  await waitFor(() => server.messages.length === count, { message: `${count} messages` })
  expect(texts().every((data, i) => data === `message ${i}`)).toBe(true)
  expect(agent.mostWritesInOneCork).toBeGreaterThan(100)
  // Sends made in one turn on an open link leave together too, and arrive in order.
  agent.mostWritesInOneCork = 0
  for (let i = count; i < 2 * count; i++) socket.send(`message ${i}`)
  await waitFor(() => server.messages.length === 2 * count, { message: `${2 * count} messages` })
  expect(texts().every((data, i) => data === `message ${i}`)).toBe(true)
  expect(agent.mostWritesInOneCork).toBeGreaterThan(100)
})

it('writes a short text message as one write, its frame header and payload together, as text', async () => {
  const server = fx.add(await startWsServer())
  const agent = new Watching()
  const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, { ...quickRetry, agent }))
  await nextEvent(socket, 'open')
  // 1,022 UTF-16 units (up to maxJoinedText), 2,042 bytes of UTF-8.
  const short = (i: number) => `${i} ${'é€😀 '.repeat(204)}`
  const long = 'x'.repeat(maxJoinedText + 1)
  agent.mostWritesInOneCork = 0
  for (let i = 0; i < 10; i++) socket.send(short(i))
  await waitFor(() => server.messages.length === 10, { message: '10 messages' })
  // Without joining, `ws` writes a text frame as two parts: 20 writes for these 10.
  expect(agent.mostWritesInOneCork).toBe(10)
  // Longer text, binary data and text given with `ws`'s options keep `ws`'s own path.
  socket.send(long)
  socket.send(new Uint8Array([1, 2, 3]))
  await waitFor(() => server.messages.length === 12, { message: '12 messages' })
  expect(server.messages.map((message) => [message.text, message.isBinary])).toEqual([
    ...Array.from({ length: 10 }, (_, i) => [short(i), false]),
    [long, false],
    [Buffer.from([1, 2, 3]).toString(), true],
  ])
})
