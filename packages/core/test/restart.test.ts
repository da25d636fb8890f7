import { afterEach, describe, expect, it } from 'vitest'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

describe('against a real ws server that restarts', () => {
  it('delivers every message sent while the server was down exactly once, in order', async () => {
    const server = fx.add(await startWsServer())
    const socket = fx.add(new ReconnectingWebSocket(server.url('/feed'), undefined, quickRetry))
    const states: string[] = []
    socket.addEventListener('statechange', (event) => states.push(event.state.status))
    await nextEvent(socket, 'open')

    let sent = 0
    const sendSome = (count: number) => {
      for (let i = 0; i < count; i++) socket.send(`m${++sent}`)
    }
    sendSome(100)
    await server.waitForMessages(100)

    // The listener goes away (clients get 1012) while the app keeps sending.
    await server.stop()
    await waitFor(() => socket.state.status === 'reconnecting', { message: 'client saw the stop' })
    const sentBeforeDown = sent
    for (let round = 0; round < 10; round++) {
      sendSome(25)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(socket.queuedMessages).toBe(sent - sentBeforeDown)
    await server.restart()
    sendSome(50)

    await server.waitForMessages(sent, 10_000)
    expect(socket.queuedMessages).toBe(0)
    // waitForMessages gives the first `sent` only: a message sent twice at the end of the flush
    // would be left out of them. The link keeps order, so whatever came twice is in before this.
    socket.send('end')
    await waitFor(() => server.messages.at(-1)?.text === 'end', { message: 'the end mark' })
    expect(server.messages.map((message) => message.text)).toEqual([
      ...Array.from({ length: sent }, (_, i) => `m${i + 1}`),
      'end',
    ])
    expect(states).toContain('reconnecting')
    expect(socket.readyState).toBe(ReconnectingWebSocket.OPEN)
  }, 15_000)

  it('flushes 100,000 queued messages in order once the server is back', async () => {
    const server = fx.add(await startWsServer())
    await server.stop()
    const socket = fx.add(
      new ReconnectingWebSocket(server.url(), undefined, {
        ...quickRetry,
        queue: { maxMessages: 100_000, maxBytes: 64 * 1024 * 1024 },
      }),
    )
    const total = 100_000
    for (let i = 0; i < total; i++) socket.send(String(i))
    expect(socket.queuedMessages).toBe(total)
    const started = performance.now()
    await server.restart()
    await server.waitForMessages(total, 30_000)
    const elapsedMs = performance.now() - started
    expect(socket.queuedMessages).toBe(0)
    // As above: the mark behind the flush shows whatever came twice.
    socket.send('end')
    await waitFor(() => server.messages.at(-1)?.text === 'end', { message: 'the end mark' })
    expect(server.messages).toHaveLength(total + 1)
    expect(
      server.messages.every((message, i) => message.text === (i < total ? String(i) : 'end')),
    ).toBe(true)
    console.info(`flushed ${total} queued messages in ${elapsedMs.toFixed(0)} ms`)
    // Core alone writes one frame per system call (the batching is `@lifeline/node`'s): about
    // 0.6 s on a quiet machine, several on a loaded one; the bound is the wait's above.
  }, 45_000)

  it('passes binary frames both ways with binaryType arraybuffer', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) =>
          socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
      }),
    )
    const socket = fx.add(new ReconnectingWebSocket(server.url(), undefined, quickRetry))
    socket.binaryType = 'arraybuffer'
    const received: unknown[] = []
    socket.onmessage = (event) => received.push(event.data)
    socket.send(new Uint8Array([1, 2, 3]))
    socket.send(new Blob([new Uint8Array([4, 5])]))
    await waitFor(() => received.length === 2, { message: 'both echoes arrived' })
    expect(received[0]).toBeInstanceOf(ArrayBuffer)
    expect(received.map((data) => [...new Uint8Array(data as ArrayBuffer)])).toEqual([
      [1, 2, 3],
      [4, 5],
    ])
  })
})
