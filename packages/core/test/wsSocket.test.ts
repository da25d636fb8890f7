import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

// A `ws` socket is listened to through its EventEmitter side (open, message, error) and its
// `onclose`: these tests hold that path to what the standard's events would have said.
describe('over a ws socket', () => {
  it('takes null protocols as none, as partysocket and reconnecting-websocket do', async () => {
    const server = fx.add(await startWsServer())
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), null, quickRetry))
    await nextEvent(socket, 'open')
    expect(socket.protocol).toBe('')
  })

  it('gives text as strings and binary per binaryType, in order', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => {
          socket.send('text é')
          socket.send(new Uint8Array([1, 2, 3]))
          socket.send('')
        },
      }),
    )
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), undefined, quickRetry))
    socket.binaryType = 'arraybuffer'
    const received: unknown[] = []
    socket.addEventListener('message', (event) => received.push(event.data))
    await waitFor(() => received.length === 3, { message: 'three messages' })
    expect(received[0]).toBe('text é')
    expect(received[1]).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(received[1] as ArrayBuffer)]).toEqual([1, 2, 3])
    expect(received[2]).toBe('')
  })

  it('reports a clean close with its code and reason, and an abnormal one as unclean', async () => {
    const server = fx.add(await startWsServer())
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), undefined, { ...quickRetry, maxRetries: 0 }),
    )
    await nextEvent(socket, 'open')
    const closed = nextEvent(socket, 'close')
    for (const client of server.wss.clients) client.close(4100, 'bye')
    expect(await closed).toMatchObject({ code: 4100, reason: 'bye', wasClean: true })
    socket.reconnect()
    await nextEvent(socket, 'open')
    const dropped = nextEvent(socket, 'close')
    for (const client of server.wss.clients) client.terminate()
    expect(await dropped).toMatchObject({ code: 1006, wasClean: false })
  })

  it('reports errors of the current socket, and ignores (without crashing) an abandoned one', async () => {
    const server = fx.add(await startWsServer())
    const created: WebSocket[] = []
    class Recorded extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        created.push(this)
      }
    }
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), undefined, { ...quickRetry, WebSocket: Recorded }),
    )
    await nextEvent(socket, 'open')
    const errors: string[] = []
    socket.addEventListener('error', (event) => errors.push(event.message))
    socket.reconnect()
    await nextEvent(socket, 'open')
    // An EventEmitter's 'error' with no listener would throw here.
    created[0]?.emit('error', new Error('late error of the old socket'))
    created[1]?.emit('error', new Error('error of the current socket'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('error of the current socket')
  })

  it('writes a flushed backlog and a turn of sends many frames to a write, in order', async () => {
    const count = 5000
    const received: string[] = []
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => socket.on('message', (data) => received.push(String(data))),
      }),
    )
    // The most frames one outermost cork held: `ws` corks around a frame's two parts itself.
    let mostWritesInOneCork = 0
    class Watched extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        // The upgrade response's socket is the net.Socket `ws` goes on to write to.
        this.once('upgrade', ({ socket: stream }) => {
          const { cork, uncork, write } = stream
          let depth = 0
          let writes = 0
          stream.cork = () => {
            if (depth++ === 0) writes = 0
            cork.call(stream)
          }
          stream.uncork = () => {
            if (--depth === 0) mostWritesInOneCork = Math.max(mostWritesInOneCork, writes)
            uncork.call(stream)
          }
          stream.write = ((...args: unknown[]) => {
            writes++
            return (write as (...args: unknown[]) => boolean).apply(stream, args)
          }) as typeof write
        })
      }
    }
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), undefined, {
        ...quickRetry,
        WebSocket: Watched,
        startClosed: true,
        queue: { maxMessages: count, maxBytes: count * 100 },
      }),
    )
    for (let i = 0; i < count; i++) socket.send(`message ${i}`)
    socket.reconnect()
    await waitFor(() => received.length === count, { message: `${count} messages` })
    expect(received.every((data, i) => data === `message ${i}`)).toBe(true)
    expect(mostWritesInOneCork).toBeGreaterThan(100)
    // Sends made in one turn on an open link leave together too, and arrive in order.
    mostWritesInOneCork = 0
    for (let i = count; i < 2 * count; i++) socket.send(`message ${i}`)
    await waitFor(() => received.length === 2 * count, { message: `${2 * count} messages` })
    expect(received.every((data, i) => data === `message ${i}`)).toBe(true)
    expect(mostWritesInOneCork).toBeGreaterThan(100)
  })
})
