import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { LifelineError, ReconnectingWebSocket } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'
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

  it('calls on<type> handlers and function listeners with the socket as `this`, as the standard does', async () => {
    const server = fx.add(
      await startWsServer({ onConnection: ({ socket }) => socket.send('hello') }),
    )
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), undefined, quickRetry))
    const thisOf: Record<string, unknown> = {}
    socket.onopen = function (this: unknown) {
      thisOf.onopen = this
    }
    socket.addEventListener('message', function (this: unknown) {
      thisOf.message = this
    })
    socket.onmessage = function (this: unknown) {
      thisOf.onmessage = this
    }
    await waitFor(() => 'onmessage' in thisOf, { message: 'the message' })
    expect(thisOf.onopen).toBe(socket)
    expect(thisOf.message).toBe(socket)
    expect(thisOf.onmessage).toBe(socket)
  })

  it('runs over another ReconnectingWebSocket given as its WebSocket, which calls its handlers with itself as `this`', async () => {
    const server = fx.add(
      await startWsServer({
        onConnection: ({ socket }) => socket.on('message', (data) => socket.send(String(data))),
      }),
    )
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), undefined, {
        ...quickRetry,
        WebSocket: ReconnectingWebSocket,
      }),
    )
    const echoed = nextEvent(socket, 'message')
    socket.send('through the inner socket')
    expect((await echoed).data).toBe('through the inner socket')
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
})

describe('close() and reconnect() called from where the socket changes state', () => {
  it('connects when reconnect() comes while its closing handshake runs', async () => {
    const server = fx.add(await startWsServer())
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), undefined, quickRetry))
    await nextEvent(socket, 'open')
    socket.close()
    expect(socket.state.status).toBe('closing')
    socket.reconnect()
    await nextEvent(socket, 'open')
    expect(socket.state.status).toBe('open')
    expect(server.connections).toHaveLength(2)
  })

  it('stays closed when a statechange listener closes it as it starts to wait', async () => {
    const server = fx.add(await startWsServer())
    const clock = new ManualClock()
    const socket = fx.add(
      new ReconnectingWebSocket(server.url('/'), undefined, { ...quickRetry, clock }),
    )
    socket.addEventListener('statechange', ({ state }) => {
      if (state.status === 'reconnecting') socket.close()
    })
    const reconnecting: number[] = []
    socket.addEventListener('reconnecting', ({ attempt }) => reconnecting.push(attempt))
    await nextEvent(socket, 'open')
    const attempts: number[] = []
    socket.addEventListener('connecting', ({ attempt }) => attempts.push(attempt))
    for (const client of server.wss.clients) client.close(1011)
    await waitFor(() => socket.state.status === 'closed', { message: 'closed' })
    // As far as the backoff's largest delay, with no time passing: a retry left armed connects.
    expect(clock.pending).toBe(0)
    clock.advance(quickRetry.maxDelayMs)
    expect(attempts).toEqual([])
    expect(server.connections).toHaveLength(1)
    expect(socket.state.status).toBe('closed')
    expect(reconnecting).toEqual([])
  })
})

describe('an error listener that reconnects', () => {
  it('has its attempt carry on, with no retry of the failed link on top of it', async () => {
    const server = fx.add(await startWsServer())
    const socket = fx.add(new ReconnectingWebSocket(server.url('/'), undefined, quickRetry))
    await nextEvent(socket, 'open')
    socket.addEventListener('error', () => socket.reconnect(), { once: true })
    socket.failLink(new LifelineError('PROTOCOL_ERROR', 'broken peer'), 4002)
    // Before, the failed link's retry took the listener's attempt over: its open was not seen,
    // and the socket waited to reconnect for good, with no timer.
    await nextEvent(socket, 'open', 2_000)
    expect(socket.state.status).toBe('open')
    expect(server.connections).toHaveLength(2)
  })
})
