import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isLifelineError } from '@lifeline/codec'
import { ReconnectingWebSocket } from './reconnectingWebSocket.js'
import type { ReconnectingWebSocketOptions } from './options.js'
import { fatalCloseCodes } from './closeCodes.js'
import { FakeWebSocket } from './testing/fakeWebSocket.js'
import { ManualClock } from './testing/manualClock.js'

let clock: ManualClock

function create(
  options: ReconnectingWebSocketOptions = {},
  url: ConstructorParameters<typeof ReconnectingWebSocket>[0] = 'ws://test.local/socket',
  protocols?: ConstructorParameters<typeof ReconnectingWebSocket>[1],
): ReconnectingWebSocket {
  return new ReconnectingWebSocket(url, protocols, {
    WebSocket: FakeWebSocket,
    clock,
    random: () => 0.5,
    ...options,
  })
}

/** Records every event of the given types, in order, as `type` or `type:detail`. */
function record(socket: ReconnectingWebSocket): string[] {
  const log: string[] = []
  socket.addEventListener('open', () => log.push('open'))
  socket.addEventListener('message', (event) => log.push(`message:${String(event.data)}`))
  socket.addEventListener('close', (event) => log.push(`close:${event.code}`))
  socket.addEventListener('error', (event) => log.push(`error:${event.error.code}`))
  socket.addEventListener('connecting', (event) => log.push(`connecting:${event.attempt}`))
  socket.addEventListener('reconnecting', (event) =>
    log.push(`reconnecting:${event.attempt}:${event.delayMs}`),
  )
  socket.addEventListener('drop', (event) => log.push(`drop:${String(event.data)}`))
  return log
}

const flushMicrotasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000_000)
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('connecting', () => {
  it('makes the first attempt at once, in the constructor', () => {
    const socket = create({}, 'ws://test.local/a', ['p1', 'p2'])
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeWebSocket.last.url).toBe('ws://test.local/a')
    expect(FakeWebSocket.last.protocols).toEqual(['p1', 'p2'])
    expect(socket.readyState).toBe(ReconnectingWebSocket.CONNECTING)
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
  })

  it('does not connect with startClosed until reconnect()', () => {
    const socket = create({ startClosed: true })
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED)
    socket.send('early')
    socket.reconnect()
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['early'])
  })

  it('created closed, resolves a URL relative to the page at its first attempt', () => {
    // No `location` here (Node): a server rendering a page, or importing a module that creates
    // the client for the browser, has nothing to resolve `/live` against, and must not throw.
    const socket = create({ startClosed: true }, '/live')
    expect(socket.url).toBe('')
    const errors: string[] = []
    socket.onerror = (event) => errors.push(event.error.code)
    socket.reconnect()
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(errors).toEqual(['INVALID_URL'])
    // For good: a string no attempt can resolve is not tried again through the backoff.
    expect(socket.state).toMatchObject({
      status: 'closed',
      cause: { error: { code: 'INVALID_URL' } },
    })
    expect(clock.pending).toBe(0)
    socket.close()
    // Not created closed, or not relative: refused at once, as before.
    for (const [options, url] of [
      [{}, '/live'],
      [{ startClosed: true }, 'ftp://example.com/'],
    ] as const) {
      expect(() => create(options, url)).toThrow(expect.objectContaining({ code: 'INVALID_URL' }))
    }
  })

  it.each<[string, ReconnectingWebSocketOptions]>([
    ['a negative delay', { initialDelayMs: -1 }],
    ['NaN', { factor: Number.NaN }],
    // Each retry would come sooner than the last, down to none at all.
    ['a factor below 1', { factor: 0.5 }],
    ['a factor of 0', { factor: 0 }],
    ['a timer delay over 2^31 - 1 ms', { connectionTimeoutMs: 2 ** 31 }],
    ['a negative retry count', { maxRetries: -1 }],
    // Every attempt abandoned before its handshake could answer: a socket that never connects.
    ['a connection timeout of 0', { connectionTimeoutMs: 0 }],
    ['a negative queue bound', { queue: { maxBytes: -5 } }],
    ['an unknown overflow policy', { queue: { overflow: 'wait' as 'error' } }],
    ['a heartbeat period over 2^31 - 1 ms', { heartbeat: { intervalMs: Infinity } }],
    // A ping at every tick of the heartbeat's timer (each millisecond), for as long as it lives.
    ['a heartbeat interval of 0', { heartbeat: { intervalMs: 0, ping: 'ping' } }],
    // A pong that takes longer than a tick (a millisecond) too late: a reconnect per quiet spell.
    ['a heartbeat timeout of 0', { heartbeat: { timeoutMs: 0, ping: 'ping' } }],
    ['an unknown option', { retries: 3 } as ReconnectingWebSocketOptions],
    ['an unknown queue option', { queue: { limit: 3 } } as ReconnectingWebSocketOptions],
    ['an unknown heartbeat option', { heartbeat: { every: 5 } } as ReconnectingWebSocketOptions],
    ['a null queue', { queue: null } as unknown as ReconnectingWebSocketOptions],
    ['a heartbeat that is a number', { heartbeat: 5 } as unknown as ReconnectingWebSocketOptions],
    [
      'a number given as a string',
      { initialDelayMs: '500' } as unknown as ReconnectingWebSocketOptions,
    ],
    ['a random that is not a function', { random: 0.5 } as unknown as ReconnectingWebSocketOptions],
  ])('refuses %s with INVALID_ARGUMENT before connecting', (_, options) => {
    expect(() => create(options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(FakeWebSocket.instances).toHaveLength(0)
  })

  it('names the unknown option it refuses', () => {
    expect(() => create({ queue: { limit: 3 } } as ReconnectingWebSocketOptions)).toThrow(
      "unknown option 'queue.limit'",
    )
  })

  it('names the range of a heartbeat period: at least the millisecond its timer ticks', () => {
    expect(() => create({ heartbeat: { intervalMs: 0, ping: 'ping' } })).toThrow(
      'heartbeat.intervalMs must be a number in 1..2147483647, got 0',
    )
    // Under a millisecond too, and 1 itself is taken.
    expect(() => create({ heartbeat: { timeoutMs: 0.5, ping: 'ping' } })).toThrow(
      'heartbeat.timeoutMs must be a number in 1..2147483647, got 0.5',
    )
    create({ heartbeat: { intervalMs: 1, timeoutMs: 1, ping: 'ping' } }).close()
  })

  it('keeps the options object it was given, so sockets made from one share it', () => {
    const options: ReconnectingWebSocketOptions = { WebSocket: FakeWebSocket, clock }
    const sockets = [1, 2].map(() => new ReconnectingWebSocket('ws://test.local/', [], options))
    expect(options).toEqual({ WebSocket: FakeWebSocket, clock })
    for (const socket of sockets) socket.close()
  })

  it('throws INVALID_URL synchronously for a bad static URL', () => {
    for (const url of ['not a url', 'ftp://host/x', 'ws://host/#fragment']) {
      expect(() => create({}, url)).toThrow(
        expect.objectContaining({ name: 'LifelineError', code: 'INVALID_URL' }),
      )
    }
    expect(FakeWebSocket.instances).toHaveLength(0)
  })

  it('maps http(s) URLs to ws(s) as the standard does', () => {
    const socket = create({}, 'https://test.local/x')
    expect(socket.url).toBe('wss://test.local/x')
  })

  it('calls an async URL provider before every attempt and uses its fresh value', async () => {
    let calls = 0
    const socket = create({}, async () => `ws://test.local/?token=t${++calls}`)
    expect(FakeWebSocket.instances).toHaveLength(0)
    await flushMicrotasks()
    expect(FakeWebSocket.last.url).toBe('ws://test.local/?token=t1')
    FakeWebSocket.last.fail()
    clock.advance(250)
    await flushMicrotasks()
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(FakeWebSocket.last.url).toBe('ws://test.local/?token=t2')
    expect(calls).toBe(2)
    socket.close()
  })

  it('reports a failing URL provider and keeps retrying per policy', async () => {
    let calls = 0
    const socket = create({}, () => {
      calls++
      if (calls < 3) return Promise.reject(new Error('token service down'))
      return 'ws://test.local/ok'
    })
    const log = record(socket)
    await flushMicrotasks()
    expect(log).toEqual(['error:CONNECTION_ERROR', 'reconnecting:2:250'])
    clock.advance(250)
    await flushMicrotasks()
    clock.advance(500)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeWebSocket.last.url).toBe('ws://test.local/ok')
    expect(calls).toBe(3)
    socket.close()
  })

  it('reports an invalid URL from a provider and retries', async () => {
    let calls = 0
    const socket = create({}, () => (++calls === 1 ? 'nope' : 'ws://test.local/'))
    const log = record(socket)
    expect(log).toEqual([])
    expect(socket.state.status).toBe('reconnecting')
    clock.advance(250)
    expect(log).toEqual(['connecting:2'])
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })

  it.each<[string, unknown]>([
    ['a duplicate', ['chat', 'chat']],
    ['an empty string', ['']],
    ['a space', 'a b'],
    ['a comma', ['a,b']],
    ['a non-string', ['chat', 42]],
    ['an object', { chat: true }],
  ])('refuses static subprotocols with %s: INVALID_ARGUMENT, nothing created', (_, protocols) => {
    expect(() => create({}, undefined, protocols as string[])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(FakeWebSocket.instances).toHaveLength(0)
  })

  it('takes null subprotocols as none', () => {
    create({}, undefined, null)
    expect(FakeWebSocket.last.protocols).toEqual([])
  })

  it("backs off a protocols provider's invalid value as a failed attempt, on the schedule", () => {
    let calls = 0
    const socket = create({}, undefined, () => (++calls < 4 ? ['chat', 'chat'] : ['chat']))
    const log = record(socket)
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2, delayMs: 250 })
    expect(socket.state).toMatchObject({ cause: { error: { code: 'INVALID_ARGUMENT' } } })
    // random() is 0.5: the delays are half of 500, 1000, 2000 ms.
    clock.advance(249)
    expect(calls).toBe(1)
    clock.advance(1)
    clock.advance(499)
    expect(calls).toBe(2)
    clock.advance(1)
    clock.advance(1000)
    expect(log).toEqual([
      'connecting:2',
      'error:INVALID_ARGUMENT',
      'reconnecting:3:500',
      'connecting:3',
      'error:INVALID_ARGUMENT',
      'reconnecting:4:1000',
      'connecting:4',
    ])
    expect(FakeWebSocket.last.protocols).toEqual(['chat'])
    socket.close()
  })

  it('fails the attempt, with no unhandled rejection, when the protocols provider throws as the URL rejects', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const socket = create(
        {},
        () => Promise.reject(new Error('no endpoint known')),
        () => {
          throw new Error('no protocols known')
        },
      )
      expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2 })
      // A rejection with no handler is reported once the microtasks of its turn are done.
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
      socket.close()
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('backs off a WebSocket constructor that throws, on the schedule', () => {
    class Throwing extends FakeWebSocket {
      constructor(url: string) {
        super(url)
        throw new SyntaxError('An invalid or duplicated subprotocol was specified')
      }
    }
    const socket = create({ WebSocket: Throwing })
    const log = record(socket)
    clock.advance(250 + 500 + 1000)
    expect(log.filter((entry) => entry.startsWith('reconnecting'))).toEqual([
      'reconnecting:3:500',
      'reconnecting:4:1000',
      'reconnecting:5:2000',
    ])
    expect(FakeWebSocket.instances).toHaveLength(4)
    socket.close()
  })

  it('turns a throwing WebSocket constructor into an error event with a redacted URL', () => {
    class Throwing extends FakeWebSocket {
      constructor(url: string) {
        super(url)
        throw new SyntaxError(`The URL '${url}' is invalid`)
      }
    }
    const errors: string[] = []
    const socket = new ReconnectingWebSocket('ws://test.local/?token=secret', undefined, {
      WebSocket: Throwing,
      clock,
      startClosed: true,
    })
    socket.onerror = (event) => errors.push(event.message)
    socket.reconnect()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('token=[redacted]')
    expect(errors[0]).not.toContain('secret')
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
  })
})

describe('the standard surface', () => {
  it('fires open, message, close and error through on-properties and listeners', () => {
    const socket = create()
    const seen: string[] = []
    socket.onopen = () => seen.push('onopen')
    socket.addEventListener('open', () => seen.push('listener'))
    socket.onmessage = (event) => seen.push(`onmessage:${String(event.data)}`)
    socket.onerror = (event) => seen.push(`onerror:${event.error.code}`)
    socket.onclose = (event) => seen.push(`onclose:${event.code}:${event.wasClean}`)
    FakeWebSocket.last.accept('chat')
    expect(socket.protocol).toBe('chat')
    expect(socket.readyState).toBe(socket.OPEN)
    FakeWebSocket.last.receive('hi')
    FakeWebSocket.last.fail('reset')
    expect(seen).toEqual([
      'onopen',
      'listener',
      'onmessage:hi',
      'onerror:CONNECTION_ERROR',
      'onclose:1006:false',
    ])
    socket.close()
  })

  it('keeps an on-property at its place when it is replaced, and removes it with null', () => {
    const socket = create()
    const seen: string[] = []
    socket.onopen = () => seen.push('first')
    socket.addEventListener('open', () => seen.push('listener'))
    socket.onopen = () => seen.push('replaced')
    FakeWebSocket.last.accept()
    expect(seen).toEqual(['replaced', 'listener'])
    socket.onopen = null
    expect(socket.onopen).toBeNull()
    socket.close()
  })

  it('supports once, handleEvent objects, removeEventListener and AbortSignal', () => {
    const socket = create()
    const seen: string[] = []
    const controller = new AbortController()
    const removed = () => seen.push('removed')
    socket.addEventListener('message', () => seen.push('once'), { once: true })
    socket.addEventListener('message', { handleEvent: (event) => seen.push(`obj:${event.data}`) })
    socket.addEventListener('message', () => seen.push('signal'), { signal: controller.signal })
    socket.addEventListener('message', removed)
    socket.removeEventListener('message', removed)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.receive('a')
    controller.abort()
    FakeWebSocket.last.receive('b')
    expect(seen).toEqual(['once', 'obj:a', 'signal', 'obj:b'])
    socket.close()
  })

  it('dispatches messages to listeners however they come and go', () => {
    const socket = create()
    const seen: string[] = []
    const listener = (event: { data: unknown }) => seen.push(`listener:${String(event.data)}`)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.receive('nobody')
    socket.addEventListener('message', () => seen.push('once'), { once: true })
    FakeWebSocket.last.receive('a')
    FakeWebSocket.last.receive('b')
    socket.addEventListener('message', listener)
    FakeWebSocket.last.receive('c')
    socket.removeEventListener('message', listener)
    FakeWebSocket.last.receive('d')
    socket.onmessage = (event) => seen.push(`onmessage:${String(event.data)}`)
    FakeWebSocket.last.receive('e')
    socket.addEventListener('message', listener)
    socket.onmessage = null
    FakeWebSocket.last.receive('f')
    socket.removeEventListener('message', listener)
    socket.onmessage = (event) => seen.push(`again:${String(event.data)}`)
    FakeWebSocket.last.receive('g')
    expect(seen).toEqual(['once', 'listener:c', 'onmessage:e', 'listener:f', 'again:g'])
    socket.close()
  })

  it('gives a handleEvent object, a once listener and a signalled one the frames an EventTarget would', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    const seen: string[] = []
    const object = {
      handleEvent: (event: { data: unknown }) => seen.push(`obj:${String(event.data)}`),
    }
    socket.addEventListener('message', object)
    FakeWebSocket.last.receive('a')
    socket.removeEventListener('message', object)
    FakeWebSocket.last.receive('b')
    socket.addEventListener('message', (event) => seen.push(`once:${String(event.data)}`), {
      once: true,
    })
    FakeWebSocket.last.receive('c')
    FakeWebSocket.last.receive('d')
    const controller = new AbortController()
    const signalled = (event: { data: unknown }) => seen.push(`signal:${String(event.data)}`)
    socket.addEventListener('message', signalled, { signal: controller.signal })
    FakeWebSocket.last.receive('e')
    controller.abort()
    FakeWebSocket.last.receive('f')
    socket.addEventListener('message', signalled)
    FakeWebSocket.last.receive('g')
    expect(seen).toEqual(['obj:a', 'once:c', 'signal:e', 'signal:g'])
    socket.close()
  })

  it('gives frames to the message listeners a subclass registers in its own listener table', () => {
    class Subclass extends ReconnectingWebSocket {
      listen(seen: string[]): void {
        this.listeners.add('message', (event) => seen.push(`added:${String(event.data)}`))
        this.listeners.setHandler('message', (event) => seen.push(`handler:${String(event.data)}`))
      }
    }
    const socket = new Subclass('ws://test.local/socket', undefined, {
      WebSocket: FakeWebSocket,
      clock,
    })
    const seen: string[] = []
    socket.listen(seen)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.receive('a')
    expect(seen).toEqual(['added:a', 'handler:a'])
    socket.close()
  })

  it('dispatches an event of its own to the on-property and the listeners, as an EventTarget does', () => {
    const socket = create()
    const seen: unknown[] = []
    socket.onmessage = function (event) {
      seen.push(['onmessage', this, event.data])
    }
    socket.addEventListener('message', (event) => seen.push(['listener', event.target, event.data]))
    socket.addEventListener('message', () => seen.push('once'), { once: true })
    const event = new MessageEvent('message', { data: 'synthetic' })
    expect(socket.dispatchEvent(event)).toBe(true)
    expect(socket.dispatchEvent(event)).toBe(true)
    expect(seen).toEqual([
      ['onmessage', socket, 'synthetic'],
      ['listener', socket, 'synthetic'],
      'once',
      ['onmessage', socket, 'synthetic'],
      ['listener', socket, 'synthetic'],
    ])
    const cancelable = new Event('close', { cancelable: true })
    socket.addEventListener('close', (closeEvent) =>
      (closeEvent as unknown as Event).preventDefault(),
    )
    expect(socket.dispatchEvent(cancelable)).toBe(false)
    socket.close()
  })

  it('reads CLOSED during a close event, as the standard, and CONNECTING once the next attempt runs', () => {
    const socket = create()
    const seen: number[] = []
    socket.onclose = () => seen.push(socket.readyState)
    FakeWebSocket.last.accept()
    socket.reconnect()
    expect(socket.readyState).toBe(socket.CONNECTING)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1001)
    expect(socket.readyState).toBe(socket.CONNECTING)
    socket.addEventListener('close', () => seen.push(socket.readyState), { once: true })
    socket.onclose = () => {
      seen.push(socket.readyState)
      socket.reconnect()
    }
    clock.advance(500)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1001)
    expect(seen).toEqual([socket.CLOSED, socket.CLOSED, socket.CLOSED, socket.CONNECTING])
    socket.close()
  })

  it('keeps the protocol and extensions of the link that closed, as a closed WebSocket does, until the next attempt', () => {
    const socket = create({}, undefined, ['chat'])
    const seen: string[] = []
    socket.onclose = () => seen.push(`${socket.protocol}|${socket.extensions}`)
    FakeWebSocket.last.extensions = 'permessage-deflate'
    FakeWebSocket.last.accept('chat')
    socket.reconnect()
    expect([socket.protocol, socket.extensions]).toEqual(['', ''])
    FakeWebSocket.last.accept('chat')
    FakeWebSocket.last.serverClose(1001)
    expect([socket.protocol, socket.extensions]).toEqual(['chat', ''])
    clock.advance(500)
    expect(socket.protocol).toBe('')
    FakeWebSocket.last.fail()
    expect(seen).toEqual(['chat|permessage-deflate', 'chat|', '|'])
    socket.close()
  })

  it("reads '' for what an implementation leaves out (React Native's null protocol, no extensions)", () => {
    // React Native's WebSocket has `protocol` null until it opens and no `extensions` at all.
    class NativeLike extends FakeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        this.protocol = null as unknown as string
        this.extensions = undefined as unknown as string
      }
    }
    const socket = create({ WebSocket: NativeLike }, undefined, ['chat'])
    const seen: unknown[] = []
    socket.onclose = () => seen.push([socket.protocol, socket.extensions])
    expect([socket.protocol, socket.extensions]).toEqual(['', ''])
    FakeWebSocket.last.accept('chat')
    FakeWebSocket.last.serverClose(1001)
    expect([socket.protocol, socket.extensions]).toEqual(['chat', ''])
    // The next attempt's socket, not open yet: nothing of the link before it.
    clock.advance(500)
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect([socket.protocol, socket.extensions]).toEqual(['', ''])
    expect(seen).toEqual([['chat', '']])
    socket.close()
  })

  it('has the standard constants and applies binaryType to every socket', () => {
    const socket = create()
    expect([socket.CONNECTING, socket.OPEN, socket.CLOSING, socket.CLOSED]).toEqual([0, 1, 2, 3])
    expect(socket.binaryType).toBe('blob')
    expect(FakeWebSocket.last.binaryType).toBe('blob')
    socket.binaryType = 'arraybuffer'
    expect(FakeWebSocket.last.binaryType).toBe('arraybuffer')
    socket.binaryType = 'nodebuffer' as BinaryType
    expect(socket.binaryType).toBe('arraybuffer')
    FakeWebSocket.last.fail()
    clock.advance(250)
    expect(FakeWebSocket.last.binaryType).toBe('arraybuffer')
    socket.close()
  })

  it('sends strings, ArrayBuffers, views and Blobs', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    const buffer = new Uint8Array([1, 2, 3]).buffer
    const view = new DataView(new ArrayBuffer(2))
    const blob = new Blob(['x'])
    socket.send('text')
    socket.send(buffer)
    socket.send(view)
    socket.send(blob)
    expect(FakeWebSocket.last.sent).toEqual(['text', buffer, view, blob])
    socket.close()
  })

  it('validates close() like the standard, with a clear synchronous error', () => {
    const socket = create()
    for (const code of [0, 999, 1001, 1005, 2999, 5000]) {
      expect(() => socket.close(code)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    expect(() => socket.close(1000, 'é'.repeat(62))).toThrow(/123 UTF-8 bytes/)
    expect(socket.readyState).toBe(socket.CONNECTING)
    socket.close(4000, 'é'.repeat(61))
    expect(socket.readyState).toBe(socket.CLOSED)
  })

  it('converts a reason that is not a string as the standard does (null is "null"), then checks it', async () => {
    const socket = create()
    const reasons: string[] = []
    socket.onclose = (event) => reasons.push(event.reason)
    FakeWebSocket.last.accept()
    socket.reconnect(4000, null as unknown as string)
    expect(FakeWebSocket.instances[0]?.closedWith).toEqual({ code: 4000, reason: 'null' })
    FakeWebSocket.last.accept()
    expect(() =>
      socket.close(1000, { toString: () => 'x'.repeat(124) } as unknown as string),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => socket.close(1000, Symbol('reason') as unknown as string)).toThrow(TypeError)
    socket.close(1000, null as unknown as string)
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 1000, reason: 'null' })
    await flushMicrotasks()
    expect(reasons).toEqual(['null', 'null'])
  })

  it('closes cleanly with the code and reason, and wasClean', async () => {
    const socket = create()
    const closes: unknown[] = []
    socket.onclose = (event) => closes.push([event.code, event.reason, event.wasClean])
    FakeWebSocket.last.accept()
    socket.close(1000, 'done')
    expect(socket.readyState).toBe(socket.CLOSING)
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 1000, reason: 'done' })
    await flushMicrotasks()
    expect(closes).toEqual([[1000, 'done', true]])
    expect(socket.readyState).toBe(socket.CLOSED)
    expect(clock.pending).toBe(0)
  })

  it('bounds the closing handshake over a dead link', () => {
    const socket = create({ connectionTimeoutMs: 3000 })
    const closes: number[] = []
    socket.onclose = (event) => closes.push(event.code)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.blackhole()
    socket.close(1000)
    clock.advance(2999)
    expect(socket.readyState).toBe(socket.CLOSING)
    clock.advance(1)
    expect(socket.readyState).toBe(socket.CLOSED)
    expect(closes).toEqual([1006])
    expect(FakeWebSocket.last.terminated).toBe(true)
    expect(clock.pending).toBe(0)
  })

  it('reports bufferedAmount as socket buffer plus queued bytes', () => {
    const socket = create()
    socket.send('héllo')
    expect(socket.bufferedAmount).toBe(6)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.bufferedAmount = 10
    expect(socket.bufferedAmount).toBe(10)
    socket.close()
  })
})

describe('reconnecting', () => {
  it.each(['statechange', 'connecting'] as const)(
    'makes one attempt when a %s listener calls reconnect() as an attempt starts',
    (type) => {
      const socket = create()
      FakeWebSocket.last.accept()
      let called = false
      socket.addEventListener(type, () => {
        if (called || socket.state.status !== 'connecting') return
        called = true
        socket.reconnect()
      })
      FakeWebSocket.last.fail()
      clock.advance(60_000)
      expect(called).toBe(true)
      // The listener's attempt only: a second socket was opened beside it, and left unseen.
      const live = FakeWebSocket.instances.filter(
        (instance) => instance.readyState === FakeWebSocket.CONNECTING,
      )
      expect(live).toHaveLength(1)
      live[0]?.accept()
      expect(socket.state.status).toBe('open')
      socket.close()
    },
  )

  /** A statechange listener that reconnects `socket` the first time it reads closing. */
  function reconnectOnceClosing(socket: ReconnectingWebSocket): void {
    socket.addEventListener('statechange', function once(event) {
      if (event.state.status !== 'closing') return
      socket.removeEventListener('statechange', once)
      socket.reconnect()
    })
  }

  it('keeps the link a closing listener reconnected, and no timer of its once closed', async () => {
    const socket = create({ connectionTimeoutMs: 10_000 })
    FakeWebSocket.last.accept()
    reconnectOnceClosing(socket)
    socket.close()
    await flushMicrotasks()
    FakeWebSocket.last.accept()
    // The listener's link: the close() it interrupted armed no handshake bound on the link it
    // let go, nor left the new attempt's connect timeout to drop that link as it fired.
    clock.advance(60_000)
    expect(socket.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(2)
    socket.close()
    await flushMicrotasks()
    expect(socket.state.status).toBe('closed')
    expect(clock.pending).toBe(0)
  })

  it('tells one close event for the link a closing listener reconnected', async () => {
    const socket = create()
    FakeWebSocket.last.accept()
    const closes: number[] = []
    socket.addEventListener('close', (event) => closes.push(event.code))
    reconnectOnceClosing(socket)
    socket.close()
    await flushMicrotasks()
    // reconnect() told the link's close as it let it go; the close() it interrupted is no
    // second close of that link, a 1006 that contradicted the first.
    expect(closes).toEqual([1000])
    expect(socket.state.status).toBe('connecting')
    socket.close()
  })

  it('ends a close() an open statechange listener made, however long the peer is silent', async () => {
    const socket = create({
      connectionTimeoutMs: 10_000,
      heartbeat: { intervalMs: 1_000, timeoutMs: 2_000 },
    })
    socket.addEventListener('statechange', ({ state }) => {
      if (state.status === 'open') socket.close()
    })
    // The peer never answers the closing handshake.
    FakeWebSocket.last.blackhole()
    FakeWebSocket.last.accept()
    // No heartbeat runs over the closing handshake: one that gave up stopped its bound, and the
    // socket stayed closing for good.
    clock.advance(10_000)
    await flushMicrotasks()
    expect(socket.state).toMatchObject({ status: 'closed', cause: { code: 1006 } })
    expect(clock.pending).toBe(0)
  })

  it('backs off exponentially with full jitter up to maxDelayMs', () => {
    const socket = create({ initialDelayMs: 100, factor: 3, maxDelayMs: 2000, random: () => 0.5 })
    const delays: number[] = []
    socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    for (let i = 0; i < 6; i++) {
      FakeWebSocket.last.fail()
      clock.runNext()
    }
    expect(delays).toEqual([50, 150, 450, 1000, 1000, 1000])
    expect(FakeWebSocket.instances).toHaveLength(7)
    socket.close()
  })

  it('emits close, then reconnecting, with the cause and the next attempt', () => {
    const socket = create()
    const log = record(socket)
    const states: string[] = []
    socket.addEventListener('statechange', (event) =>
      states.push(`${event.previous.status}>${event.state.status}`),
    )
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1011, 'oops')
    expect(log).toEqual(['open', 'close:1011', 'reconnecting:2:250'])
    expect(socket.state).toMatchObject({
      status: 'reconnecting',
      attempt: 2,
      delayMs: 250,
      cause: { code: 1011, reason: 'oops', wasClean: true },
    })
    clock.advance(250)
    expect(log.at(-1)).toBe('connecting:2')
    expect(states).toEqual(['connecting>open', 'open>reconnecting', 'reconnecting>connecting'])
    socket.close()
  })

  it('reports a link lost with close code 0 (Deno) as 1006, the code the standard gives it', () => {
    const socket = create()
    const log = record(socket)
    const codes: number[] = []
    socket.addEventListener('statechange', (event) => {
      if (event.state.status === 'reconnecting') codes.push(event.state.cause.code)
    })
    FakeWebSocket.last.accept()
    // Deno's CloseEvent for a TCP connection that ends without a close frame.
    FakeWebSocket.last.serverClose(0, '', false)
    expect(log).toEqual(['open', 'close:1006', 'reconnecting:2:250'])
    expect(codes).toEqual([1006])
    socket.close()
  })

  it('resets the attempt counter only after the link stayed up minUptimeMs', () => {
    const socket = create({ minUptimeMs: 5000 })
    const delays: number[] = []
    socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    FakeWebSocket.last.fail()
    clock.runNext()
    FakeWebSocket.last.accept()
    clock.advance(4999)
    FakeWebSocket.last.serverClose(1006, '', false)
    clock.runNext()
    FakeWebSocket.last.accept()
    clock.advance(5000)
    FakeWebSocket.last.serverClose(1006, '', false)
    expect(delays).toEqual([250, 500, 250])
    socket.close()
  })

  it('abandons an attempt that does not open within connectionTimeoutMs', () => {
    const socket = create({ connectionTimeoutMs: 2000 })
    const log = record(socket)
    const first = FakeWebSocket.last
    clock.advance(1999)
    expect(log).toEqual([])
    clock.advance(1)
    expect(log).toEqual(['error:CONNECT_TIMEOUT', 'close:1006', 'reconnecting:2:250'])
    expect(first.terminated).toBe(true)
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    socket.close()
  })

  it('opens an attempt whose answer came in time but waited out a stall with its timeout', () => {
    const socket = create({ connectionTimeoutMs: 2000 })
    const log = record(socket)
    // The event loop stalls past the deadline; the timer, overdue, runs before the answer.
    clock.jump(5000)
    clock.advance(0)
    expect(log).toEqual([])
    FakeWebSocket.last.accept()
    clock.advance(1)
    expect(log).toEqual(['open'])
    // With no answer, the timeout holds, a turn later; throttled as in a hidden page, once.
    socket.reconnect()
    clock.jump(5000)
    clock.advance(0)
    clock.jump(1000)
    clock.advance(0)
    expect(log.slice(2)).toEqual([
      'connecting:1',
      'error:CONNECT_TIMEOUT',
      'close:1006',
      'reconnecting:2:250',
    ])
    socket.close()
  })

  it('ends an attempt at an error before open, as a 1006 close, and ignores a late close', () => {
    const socket = create()
    const log = record(socket)
    const refused = FakeWebSocket.last
    refused.fail('connection refused', { close: false })
    expect(log).toEqual(['error:CONNECTION_ERROR', 'close:1006', 'reconnecting:2:250'])
    expect(socket.state).toMatchObject({ status: 'reconnecting', cause: { code: 1006 } })
    refused.serverClose(1006, '', false)
    expect(log).toHaveLength(3)
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.accept()
    expect(log.slice(3)).toEqual(['connecting:2', 'open'])
    socket.close()
  })

  it('ends at once when an error listener calls close() on an attempt whose socket is already closed', async () => {
    const socket = create()
    const log = record(socket)
    socket.addEventListener('error', () => socket.close())
    const refused = FakeWebSocket.last
    // As the standard and undici fire it for a failed connection: CLOSED before `error`, and
    // (undici) no `close` after it.
    refused.readyState = FakeWebSocket.CLOSED
    refused.onerror?.({ message: 'connection refused', error: new Error('connection refused') })
    await flushMicrotasks()
    expect(log).toEqual(['error:CONNECTION_ERROR', 'close:1006'])
    expect(socket.state).toMatchObject({ status: 'closed', cause: { code: 1006 } })
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED)
    expect(clock.pending).toBe(0)
  })

  it('ignores late events from an abandoned socket', () => {
    const socket = create({ connectionTimeoutMs: 1000 })
    const first = FakeWebSocket.last
    clock.advance(1000)
    clock.advance(250)
    const log = record(socket)
    expect(() => first.fail()).not.toThrow()
    expect(log).toEqual([])
    expect(socket.state.status).toBe('connecting')
    socket.close()
  })

  it('retries 1012 (service restart) promptly, within the first delay window', () => {
    const socket = create({ random: () => 0.99 })
    const delays: number[] = []
    socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.fail()
      clock.runNext()
    }
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1012, 'restart')
    expect(delays).toEqual([495, 990, 1980, 495])
    socket.close()
  })

  it('backs off from 1012s that come again and again, and is prompt again once a link is stable', () => {
    const socket = create({ random: () => 0.99 })
    const delays: number[] = []
    socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    for (let i = 0; i < 5; i++) {
      FakeWebSocket.last.accept()
      FakeWebSocket.last.serverClose(1012, 'restart')
      clock.runNext()
    }
    // A server that closes every link with 1012 was reconnected to every 495 ms for ever.
    expect(delays).toEqual([495, 990, 1980, 3960, 7920])
    FakeWebSocket.last.accept()
    clock.advance(5_000)
    FakeWebSocket.last.serverClose(1012, 'restart')
    expect(delays.at(-1)).toBe(495)
    socket.close()
  })

  it('uses a custom delay function with the retry number and close event', () => {
    const calls: [number, number][] = []
    const socket = create({
      delayMs: ({ retry, event }) => {
        calls.push([retry, event.code])
        return 42
      },
    })
    FakeWebSocket.last.fail()
    expect(socket.state).toMatchObject({ delayMs: 42 })
    clock.advance(42)
    FakeWebSocket.last.serverClose(4000, 'x')
    expect(calls).toEqual([
      [0, 1006],
      [1, 4000],
    ])
    socket.close()
  })

  it.each([...fatalCloseCodes])('does not reconnect after fatal close code %i', (code) => {
    const socket = create()
    const log = record(socket)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(code, 'no')
    clock.advance(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.readyState).toBe(socket.CLOSED)
    expect(socket.state).toMatchObject({ status: 'closed', cause: { code } })
    expect(log.slice(0, 2)).toEqual(['open', `close:${code}`])
    expect(clock.pending).toBe(0)
  })

  it.each([
    [1002, 'PROTOCOL_ERROR'],
    [1003, 'DECODE_FAILED'],
    [1007, 'DECODE_FAILED'],
    [1008, 'POLICY_VIOLATION'],
    [1009, 'MESSAGE_TOO_LARGE'],
    [1010, 'PROTOCOL_ERROR'],
  ])('reports the fatal close %i as an error %s with its closeCode', (code, errorCode) => {
    const socket = create()
    const errors: unknown[] = []
    socket.onerror = (event) => errors.push(event.error)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(code, 'bad')
    expect(errors).toEqual([expect.objectContaining({ code: errorCode, closeCode: code })])
    expect(socket.state).toMatchObject({ status: 'closed', cause: { error: errors[0] } })
  })

  it('reports any other close that shouldReconnect refused as CLOSED_BY_PEER, 4409 by name', () => {
    const errors: unknown[] = []
    for (const code of [4500, 4409, 1006]) {
      const socket = create({ shouldReconnect: () => false })
      socket.onerror = (event) => errors.push(event.error)
      FakeWebSocket.last.accept()
      FakeWebSocket.last.serverClose(code, '', code !== 1006)
    }
    expect(errors).toEqual([
      expect.objectContaining({ code: 'CLOSED_BY_PEER', closeCode: 4500 }),
      expect.objectContaining({ code: 'SESSION_TAKEN_OVER', closeCode: 4409 }),
      expect.objectContaining({ code: 'CLOSED_BY_PEER', closeCode: 1006 }),
    ])
  })

  it('reports a timeout that ends the socket for good once, not again as the close', () => {
    const socket = create({ shouldReconnect: () => false, connectionTimeoutMs: 100 })
    const log = record(socket)
    clock.advance(100)
    expect(log.filter((entry) => entry.startsWith('error'))).toEqual(['error:CONNECT_TIMEOUT'])
    expect(socket.state.status).toBe('closed')
  })

  it('names the auth failures as errors', () => {
    const errors: string[] = []
    for (const code of [4401, 4403]) {
      const socket = create()
      socket.onerror = (event) => errors.push(event.error.code)
      FakeWebSocket.last.accept()
      FakeWebSocket.last.serverClose(code, 'bad token')
    }
    expect(errors).toEqual(['UNAUTHENTICATED', 'FORBIDDEN'])
  })

  it.each([1000, 1001, 1006, 1011, 1012, 1013, 4000, 4500, 4999])('reconnects after %i', (code) => {
    const socket = create()
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(code, '', code !== 1006)
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    socket.close()
  })

  it('lets shouldReconnect override the fatal list, e.g. to refresh a token on 4401', () => {
    const socket = create({ shouldReconnect: (event) => event.code === 4401 || event.code < 4000 })
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(4401, 'expired')
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(4500, 'nope')
    clock.advance(30_000)
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(socket.readyState).toBe(socket.CLOSED)
  })

  it('gives up after maxRetries, and reconnect() starts again', () => {
    const socket = create({ maxRetries: 2 })
    const log = record(socket)
    FakeWebSocket.last.fail()
    clock.runNext()
    FakeWebSocket.last.fail()
    clock.runNext()
    FakeWebSocket.last.fail()
    expect(clock.pending).toBe(0)
    expect(log.slice(-2)).toEqual(['close:1006', 'error:RETRIES_EXHAUSTED'])
    expect(socket.state).toMatchObject({
      status: 'closed',
      cause: { error: { code: 'RETRIES_EXHAUSTED' } },
    })
    socket.send('kept')
    socket.reconnect()
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.instances).toHaveLength(4)
    expect(FakeWebSocket.last.sent).toEqual(['kept'])
    socket.close()
  })

  it('reconnect() drops the current link and connects at once', () => {
    const socket = create()
    const log = record(socket)
    const first = FakeWebSocket.last
    first.accept()
    socket.reconnect(4001, 'switch')
    expect(first.closedWith).toEqual({ code: 4001, reason: 'switch' })
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(log).toEqual(['open', 'close:4001', 'connecting:1'])
    socket.close()
  })

  it('never reconnects after close(), and leaves no timer behind', async () => {
    const socket = create()
    FakeWebSocket.last.accept()
    FakeWebSocket.last.fail()
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
    expect(clock.pending).toBe(0)
    clock.advance(120_000)
    await flushMicrotasks()
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.readyState).toBe(socket.CLOSED)
  })

  it('stops when close() is called from inside a close listener', () => {
    const socket = create()
    socket.onclose = () => socket.close()
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1011)
    expect(clock.pending).toBe(0)
    expect(socket.readyState).toBe(socket.CLOSED)
  })

  it('tells no second close when close() is called from inside a close listener', async () => {
    const socket = create()
    const closes: string[] = []
    socket.onclose = ({ code, wasClean }) => {
      closes.push(`${code}:${wasClean}`)
      socket.close()
    }
    FakeWebSocket.last.accept()
    FakeWebSocket.last.serverClose(1011, 'bug', false)
    await flushMicrotasks()
    expect(clock.pending).toBe(0)
    expect(socket.state).toEqual({
      status: 'closed',
      cause: { code: 1011, reason: 'bug', wasClean: false },
    })
    socket.reconnect()
    FakeWebSocket.last.accept()
    socket.reconnect(4001)
    await flushMicrotasks()
    clock.advance(60_000)
    // The socket read CLOSED in the listener, where the standard's close() does nothing.
    expect(closes).toEqual(['1011:false', '4001:true'])
    expect(clock.pending).toBe(0)
    expect(socket.state).toEqual({
      status: 'closed',
      cause: { code: 4001, reason: '', wasClean: true },
    })
    expect(FakeWebSocket.instances).toHaveLength(2)
  })

  it('keeps working when a listener throws', () => {
    const reported: unknown[] = []
    vi.spyOn(console, 'error').mockImplementation((_message, error) => reported.push(error))
    const socket = create()
    socket.addEventListener('close', () => {
      throw new Error('listener bug')
    })
    socket.addEventListener('reconnecting', () => {
      throw new Error('another bug')
    })
    FakeWebSocket.last.accept()
    FakeWebSocket.last.fail()
    clock.advance(250)
    FakeWebSocket.last.accept()
    expect(socket.readyState).toBe(socket.OPEN)
    expect(reported.map((error) => (error as Error).message)).toEqual([
      'listener bug',
      'another bug',
    ])
    socket.close()
  })

  it('emits statechange only on change, with the previous state', () => {
    const socket = create()
    const changes: string[] = []
    socket.addEventListener('statechange', (event) => {
      expect(event.state).toBe(socket.state)
      changes.push(`${event.previous.status}>${event.state.status}`)
    })
    FakeWebSocket.last.accept()
    socket.close()
    socket.close()
    expect(changes).toEqual(['connecting>open', 'open>closing'])
  })

  it('logs state changes with token-like query values redacted', () => {
    const lines: string[] = []
    const socket = create(
      { debug: (message, details) => lines.push(`${message} ${JSON.stringify(details)}`) },
      'ws://user:pw@test.local/?token=abc123&room=1',
    )
    FakeWebSocket.last.fail()
    socket.close()
    const text = lines.join('\n')
    expect(text).toContain('token=[redacted]')
    expect(text).not.toContain('abc123')
    expect(text).not.toContain(':pw@')
    expect(text).toContain('state reconnecting -> closed')
  })
})

describe('canConnect', () => {
  it('makes no attempt and counts none while it says no, until reconnect()', () => {
    let online = false
    const socket = create({ canConnect: () => online })
    const log = record(socket)
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
    socket.send('queued')
    clock.advance(60_000)
    expect(FakeWebSocket.instances).toHaveLength(0)
    online = true
    socket.reconnect()
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['queued'])
    expect(log).toEqual(['connecting:1', 'open'])
    socket.close()
  })

  it('parks a waiting reconnect when its delay is over, with no timer left', () => {
    let online = true
    const socket = create({ canConnect: () => online })
    FakeWebSocket.last.accept()
    online = false
    FakeWebSocket.last.fail()
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2 })
    clock.advance(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2 })
    expect(clock.pending).toBe(0)
    online = true
    socket.reconnect()
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
    socket.close()
  })

  it('reports, never throws, when it throws: the attempt goes ahead', () => {
    const reported: unknown[] = []
    vi.spyOn(console, 'error').mockImplementation((_message, error) => reported.push(error))
    create({
      canConnect: () => {
        throw new Error('boom')
      },
    }).close()
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(reported).toEqual([new Error('boom')])
  })
})

describe('send queue', () => {
  it('flushes queued messages in order before anything sent from the open handler', () => {
    const socket = create()
    socket.send('1')
    socket.send('2')
    socket.onopen = () => socket.send('3')
    FakeWebSocket.last.accept()
    socket.send('4')
    expect(FakeWebSocket.last.sent).toEqual(['1', '2', '3', '4'])
  })

  it('queues while reconnecting and flushes on the next link', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    socket.send('a')
    FakeWebSocket.last.fail()
    socket.send('b')
    socket.send('c')
    expect(socket.queuedMessages).toBe(2)
    clock.advance(250)
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.instances[0]?.sent).toEqual(['a'])
    expect(FakeWebSocket.last.sent).toEqual(['b', 'c'])
    expect(socket.queuedMessages).toBe(0)
    socket.close()
  })

  it('queues when the socket is already closing under an open state', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    FakeWebSocket.last.readyState = FakeWebSocket.CLOSING
    socket.send('late')
    expect(socket.queuedMessages).toBe(1)
    FakeWebSocket.last.serverClose(1001)
    clock.advance(250)
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['late'])
    socket.close()
  })

  it("throws QUEUE_FULL under 'error' and loses nothing already queued", () => {
    const socket = create({ queue: { maxMessages: 2 } })
    socket.send('1')
    socket.send('2')
    expect(() => socket.send('3')).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }))
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['1', '2'])
    socket.close()
  })

  // What a project without `exactOptionalPropertyTypes` passes on from its own optional
  // settings; the constructor's checks already took `undefined` as "not given".
  it('takes an undefined queue bound or policy as not given: its default applies', () => {
    const loose = { maxMessages: undefined, maxBytes: undefined } as unknown
    const socket = create({ queue: loose as NonNullable<ReconnectingWebSocketOptions['queue']> })
    socket.send('1')
    socket.send('2')
    expect(socket.queuedMessages).toBe(2)
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['1', '2'])
    socket.close()

    const policy = { maxMessages: 2, overflow: undefined } as unknown
    const bounded = create({ queue: policy as NonNullable<ReconnectingWebSocketOptions['queue']> })
    bounded.send('1')
    bounded.send('2')
    // The default policy, 'error': nothing already queued is dropped to make room.
    expect(() => bounded.send('3')).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }))
    expect(bounded.queuedMessages).toBe(2)
    bounded.close()
  })

  it('bounds the queue by bytes too', () => {
    const socket = create({ queue: { maxBytes: 10 } })
    socket.send('12345')
    socket.send('12345')
    expect(() => socket.send('x')).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }))
    socket.close()
  })

  it("drops the oldest under 'drop-oldest', reporting each drop", () => {
    const socket = create({ queue: { maxMessages: 2, overflow: 'drop-oldest' } })
    const log = record(socket)
    for (const n of ['1', '2', '3', '4']) socket.send(n)
    expect(log).toEqual(['drop:1', 'drop:2'])
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['3', '4'])
    socket.close()
  })

  it("drops the new message under 'drop-newest', reporting it", () => {
    const socket = create({ queue: { maxMessages: 2, overflow: 'drop-newest' } })
    const log = record(socket)
    for (const n of ['1', '2', '3', '4']) socket.send(n)
    expect(log).toEqual(['drop:3', 'drop:4'])
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['1', '2'])
    socket.close()
  })

  it('drops a message larger than maxBytes under a drop policy rather than emptying the queue', () => {
    const socket = create({ queue: { maxBytes: 4, overflow: 'drop-oldest' } })
    const log = record(socket)
    socket.send('ab')
    socket.send('toolong')
    expect(log).toEqual(['drop:toolong'])
    expect(socket.queuedMessages).toBe(1)
    socket.close()
  })

  it('copies queued binary data, as the standard copies at send()', () => {
    const socket = create()
    const bytes = new Uint8Array([1, 2, 3])
    socket.send(bytes)
    bytes[0] = 9
    FakeWebSocket.last.accept()
    expect([...(FakeWebSocket.last.sent[0] as Uint8Array)]).toEqual([1, 2, 3])
    socket.close()
  })

  it('refuses what is not WebSocket data with INVALID_ARGUMENT', () => {
    const socket = create()
    expect(() => socket.send({ not: 'data' } as unknown as string)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    socket.close()
  })

  it('refuses what is not WebSocket data on an open link too, as it refuses it queued', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    for (const data of [{ not: 'data' }, 42, null, [1, 2]]) {
      expect(() => socket.send(data as unknown as string)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    socket.send('text')
    expect(FakeWebSocket.last.sent).toEqual(['text'])
    socket.close()
  })

  it('throws CLOSED after close(), keeps the queue, and flushes it after reconnect()', () => {
    const socket = create()
    socket.send('queued')
    socket.close()
    let thrown: unknown
    try {
      socket.send('after')
    } catch (error) {
      thrown = error
    }
    expect(isLifelineError(thrown, 'CLOSED')).toBe(true)
    socket.reconnect()
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['queued'])
    socket.close()
  })

  it('pauses the flush while bufferedAmount is above the high-water mark', () => {
    const socket = create({ highWaterMarkBytes: 100 })
    for (let i = 0; i < 5; i++) socket.send(`m${i}`)
    const fake = FakeWebSocket.last
    const send = fake.send.bind(fake)
    fake.send = (data) => {
      send(data)
      fake.bufferedAmount += 60
    }
    fake.accept()
    expect(fake.sent).toEqual(['m0', 'm1'])
    socket.send('new')
    clock.advance(50)
    expect(fake.sent).toHaveLength(2)
    fake.bufferedAmount = 0
    clock.advance(10)
    expect(fake.sent).toEqual(['m0', 'm1', 'm2', 'm3'])
    fake.bufferedAmount = 0
    clock.advance(10)
    expect(fake.sent).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'new'])
    socket.close()
  })

  it('re-checks a stalled socket less and less often, and flushes soon once it drains', () => {
    const socket = create({ highWaterMarkBytes: 100 })
    for (let i = 0; i < 3; i++) socket.send(`m${i}`)
    const fake = FakeWebSocket.last
    fake.bufferedAmount = 1_000
    fake.accept()
    const setTimeout = vi.spyOn(clock, 'setTimeout')
    // A link that TCP keeps but that does not drain: each check is a timer.
    clock.advance(1_000)
    expect(setTimeout.mock.calls.length).toBeLessThan(50)
    setTimeout.mockClear()
    clock.advance(10_000)
    expect(setTimeout.mock.calls.length).toBeLessThanOrEqual(101)
    expect(fake.sent).toEqual([])
    // Drained after 11 s stalled: written within the longest wait, in order.
    fake.bufferedAmount = 0
    clock.advance(100)
    expect(fake.sent).toEqual(['m0', 'm1', 'm2'])
    // A short stall is waited out about as fast as before: the wait starts again at 1 ms.
    fake.bufferedAmount = 1_000
    socket.send('m3')
    clock.advance(8)
    fake.bufferedAmount = 0
    clock.advance(2)
    expect(fake.sent).toEqual(['m0', 'm1', 'm2', 'm3'])
    socket.close()
  })

  it('yields to the event loop during a large flush, keeping order', () => {
    // Every reading of this clock is 1 ms later than the last: a slow machine, made exact.
    class SlowClock extends ManualClock {
      private readings = 0
      override now(): number {
        return super.now() + this.readings++
      }
    }
    const slowClock = new SlowClock()
    const socket = new ReconnectingWebSocket('ws://test.local/', undefined, {
      WebSocket: FakeWebSocket,
      clock: slowClock,
      queue: { maxMessages: 100_000, maxBytes: 10_000_000 },
    })
    for (let i = 0; i < 10_000; i++) socket.send(String(i))
    FakeWebSocket.last.accept()
    const firstSlice = FakeWebSocket.last.sent.length
    expect(firstSlice).toBeGreaterThan(0)
    expect(firstSlice).toBeLessThan(10_000)
    socket.send('last')
    for (let slices = 0; socket.queuedMessages > 0 && slices < 1000; slices++) slowClock.runNext()
    const sent = FakeWebSocket.last.sent
    expect(sent).toHaveLength(10_001)
    expect(sent.every((data, i) => data === (i === 10_000 ? 'last' : String(i)))).toBe(true)
    socket.close()
  })
})

describe('heartbeat', () => {
  const heartbeat = {
    intervalMs: 1000,
    timeoutMs: 500,
    ping: 'ping',
    isPong: (data: unknown) => data === 'pong',
  }

  /** Makes the fake server answer every ping with a pong. */
  function answerPings(fake: FakeWebSocket): void {
    const send = fake.send.bind(fake)
    fake.send = (data) => {
      send(data)
      if (data === 'ping') queueMicrotask(() => fake.receive('pong'))
    }
  }

  it('pings after intervalMs of quiet and consumes the pong', async () => {
    const socket = create({ heartbeat })
    const log = record(socket)
    const fake = FakeWebSocket.last
    answerPings(fake)
    fake.accept()
    clock.advance(999)
    expect(fake.sent).toEqual([])
    clock.advance(1)
    expect(fake.sent).toEqual(['ping'])
    await flushMicrotasks()
    fake.receive('data')
    for (let i = 0; i < 20; i++) {
      clock.advance(500)
      await flushMicrotasks()
    }
    expect(log).toEqual(['open', 'message:data'])
    expect(fake.sent.length).toBeGreaterThanOrEqual(6)
    expect(socket.readyState).toBe(socket.OPEN)
    socket.close()
  })

  it("survives a ping function that throws: reported, and the other sockets' heartbeats go on", async () => {
    const reported: unknown[] = []
    vi.spyOn(console, 'error').mockImplementation((_message, error) => reported.push(error))
    const broken = create({
      heartbeat: {
        ...heartbeat,
        ping: () => {
          throw new Error('ping bug')
        },
      },
    })
    FakeWebSocket.last.accept()
    const healthy = create({ heartbeat })
    const fake = FakeWebSocket.last
    answerPings(fake)
    fake.accept()
    expect(() => clock.advance(1000)).not.toThrow()
    expect(fake.sent).toEqual(['ping'])
    expect(reported.map((error) => (error as Error).message)).toEqual(['ping bug'])
    await flushMicrotasks()
    // A link it cannot ping is judged by its silence, as any other.
    clock.advance(600)
    expect(broken.state).toMatchObject({ status: 'reconnecting', cause: { code: 4000 } })
    expect(healthy.readyState).toBe(healthy.OPEN)
    broken.close()
    healthy.close()
  })

  it('detects a half-open link within intervalMs + timeoutMs (+10%) and reconnects', () => {
    const socket = create({ heartbeat })
    const log = record(socket)
    const fake = FakeWebSocket.last
    fake.accept()
    clock.advance(700)
    fake.receive('last words')
    fake.blackhole()
    const silentSince = clock.now()
    let detectedAt = 0
    socket.addEventListener('error', () => (detectedAt = clock.now()))
    clock.advance(3000)
    // Exactly: the last frame is read at the next tick (750, ticks every 50 ms), the ping goes
    // at 1750 and the link is dead at 2250, 1550 ms after it went quiet (within the +10 %).
    const detectionMs = detectedAt - silentSince
    expect(detectionMs).toBe(1550)
    const detected = log.indexOf('error:HEARTBEAT_TIMEOUT')
    expect(log.slice(detected, detected + 3)).toEqual([
      'error:HEARTBEAT_TIMEOUT',
      'close:4000',
      'reconnecting:2:250',
    ])
    expect(fake.closedWith).toEqual({ code: 4000, reason: 'heartbeat timeout' })
    expect(fake.terminated).toBe(true)
    socket.close()
  })

  // The last frame a tick before the sleep, and one the heartbeat had not yet read (no tick
  // since): it says nothing of the link after the sleep either.
  it.each([
    ['a tick before it', 100],
    ['with no tick since', 0],
  ])('checks the link at once when the machine wakes, its last frame %s', (_, gapMs) => {
    // The wall clock goes on while the machine sleeps; the monotonic clock (`now`) does not.
    let sleptMs = 0
    Object.assign(clock, { wallNow: () => clock.now() + sleptMs })
    const socket = create({ heartbeat })
    const fake = FakeWebSocket.last
    fake.accept()
    clock.advance(300)
    fake.receive('before sleeping')
    clock.advance(gapMs)
    // Asleep for ten minutes; the link died meanwhile, unseen: nothing answers from now on.
    sleptMs += 600_000
    const wokeAt = clock.now()
    let detectedAt = 0
    socket.addEventListener('error', () => (detectedAt = clock.now()))
    clock.advance(50)
    // Pinged at the first tick after waking, not a whole interval after the last frame.
    expect(fake.sent).toEqual(['ping'])
    clock.advance(1000)
    expect(detectedAt - wokeAt).toBeLessThanOrEqual(50 + heartbeat.timeoutMs + 50)
    expect(fake.closedWith).toEqual({ code: 4000, reason: 'heartbeat timeout' })
    socket.close()
  })

  it('pings afresh on waking when the sleep came with a ping out, and a live link stays up', async () => {
    let sleptMs = 0
    Object.assign(clock, { wallNow: () => clock.now() + sleptMs })
    const socket = create({ heartbeat })
    const fake = FakeWebSocket.last
    answerPings(fake)
    fake.accept()
    clock.advance(1000)
    expect(fake.sent).toEqual(['ping'])
    // The pong arrives, but the machine sleeps before the heartbeat reads it: waking, the
    // heartbeat drops it (it may have come before the sleep), so it must ask again.
    await flushMicrotasks()
    sleptMs += 600_000
    clock.advance(50)
    expect(fake.sent).toEqual(['ping', 'ping'])
    await flushMicrotasks()
    for (let i = 0; i < 10; i++) {
      clock.advance(100)
      await flushMicrotasks()
    }
    expect(socket.readyState).toBe(socket.OPEN)
    socket.close()
  })

  it('checks the link at once when the machine sleeps before the first tick after opening', () => {
    let sleptMs = 0
    Object.assign(clock, { wallNow: () => clock.now() + sleptMs })
    const socket = create({ heartbeat })
    const fake = FakeWebSocket.last
    fake.accept()
    // Asleep before the heartbeat's first tick; the link died meanwhile.
    sleptMs += 600_000
    clock.advance(50)
    expect(fake.sent).toEqual(['ping'])
    clock.advance(550)
    expect(fake.closedWith).toEqual({ code: 4000, reason: 'heartbeat timeout' })
    socket.close()
  })

  it('takes no sleep for a wall clock set back, and a live link stays up after waking', async () => {
    let wallOffsetMs = 0
    Object.assign(clock, { wallNow: () => clock.now() + wallOffsetMs })
    const socket = create({ heartbeat })
    const fake = FakeWebSocket.last
    answerPings(fake)
    fake.accept()
    clock.advance(300)
    wallOffsetMs -= 3_600_000
    clock.advance(100)
    expect(fake.sent).toEqual([])
    // Woken: pinged at once, and the pong keeps it up.
    wallOffsetMs += 7_200_000
    clock.advance(50)
    expect(fake.sent).toEqual(['ping'])
    await flushMicrotasks()
    for (let i = 0; i < 10; i++) {
      clock.advance(100)
      await flushMicrotasks()
    }
    expect(socket.readyState).toBe(socket.OPEN)
    socket.close()
  })

  it('counts any inbound frame when no ping is configured', () => {
    const socket = create({ heartbeat: { intervalMs: 1000, timeoutMs: 1000 } })
    const fake = FakeWebSocket.last
    fake.accept()
    for (let i = 0; i < 10; i++) {
      clock.advance(1500)
      fake.receive('server tick')
    }
    expect(socket.readyState).toBe(socket.OPEN)
    expect(fake.sent).toEqual([])
    clock.advance(1999)
    expect(socket.readyState).toBe(socket.OPEN)
    clock.advance(201)
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
  })

  it('is not fooled by throttled timers: a late ping still gets its full timeout', () => {
    // Intensive throttling in a background tab: no timer fires sooner than a minute.
    class ThrottledClock extends ManualClock {
      override setTimeout(callback: () => void, delayMs: number) {
        return super.setTimeout(callback, Math.max(delayMs, 60_000))
      }
    }
    const throttled = new ThrottledClock()
    const socket = new ReconnectingWebSocket('ws://test.local/', undefined, {
      WebSocket: FakeWebSocket,
      clock: throttled,
      heartbeat,
    })
    const fake = FakeWebSocket.last
    fake.accept()
    let answered = 0
    for (let minute = 1; minute <= 6; minute++) {
      throttled.advance(60_000)
      expect(socket.readyState).toBe(socket.OPEN)
      if (fake.sent.length > answered) {
        answered = fake.sent.length
        fake.receive('pong')
      }
    }
    expect(fake.sent.filter((data) => data === 'ping')).toHaveLength(3)
    // Unanswered, the late ping fails the link: suspected at the next check, which ran late,
    // and found dead at the one after.
    throttled.advance(60_000)
    expect(fake.sent.at(-1)).toBe('ping')
    throttled.advance(60_000)
    expect(socket.readyState).toBe(socket.OPEN)
    throttled.advance(60_000)
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
  })

  it('reads what a late timer held back before it judges the link, and still finds a dead one', () => {
    const socket = create({ heartbeat })
    const fake = FakeWebSocket.last
    fake.accept()
    clock.advance(1_000)
    expect(fake.sent).toEqual(['ping'])
    // The page is frozen (or the machine sleeps) with the ping out. Its pong arrives meanwhile
    // and waits to be read; when the page runs again, the overdue check may run first.
    clock.jump(60_000)
    clock.advance(0)
    expect(socket.readyState).toBe(socket.OPEN)
    fake.receive('pong')
    clock.advance(100)
    expect(socket.readyState).toBe(socket.OPEN)
    // Frozen again, with no answer this time: found at the check after the late one.
    clock.advance(1_000)
    expect(fake.sent).toEqual(['ping', 'ping'])
    clock.jump(60_000)
    clock.advance(0)
    expect(socket.readyState).toBe(socket.OPEN)
    clock.advance(50)
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
  })

  it('stops with the socket: no timer after close()', async () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    socket.close()
    await flushMicrotasks()
    expect(clock.pending).toBe(0)
  })

  it('shares one timer among all sockets on a clock, and drops it with the last one', async () => {
    const sockets = [1, 2, 3].map(() => create({ heartbeat }))
    for (const fake of FakeWebSocket.instances) fake.accept()
    // One heartbeat timer for three open sockets; connect timers were cleared on open.
    expect(clock.pending).toBe(1)
    // A socket with a shorter period makes the shared timer tick finer, for everyone.
    const fine = create({ heartbeat: { ...heartbeat, intervalMs: 100, timeoutMs: 100 } })
    FakeWebSocket.last.accept()
    expect(clock.pending).toBe(1)
    FakeWebSocket.last.blackhole()
    clock.advance(230)
    expect(fine.state.status).toBe('reconnecting')
    for (const socket of sockets) expect(socket.readyState).toBe(socket.OPEN)
    fine.close()
    for (const socket of sockets) socket.close()
    await flushMicrotasks()
    expect(clock.pending).toBe(0)
  })

  it('ticks at the step of the sockets still on the clock once a finer one has left', () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    const fine = create({ heartbeat: { ...heartbeat, intervalMs: 10, timeoutMs: 10 } })
    FakeWebSocket.last.accept()
    fine.close()
    const armed = vi.spyOn(clock, 'setTimeout')
    clock.advance(1_000)
    // The one left asks for a tick every 50 ms: twenty a second, not a thousand.
    expect(armed.mock.calls.length).toBeLessThanOrEqual(21)
    expect(socket.readyState).toBe(socket.OPEN)
    socket.close()
  })

  it('detects each dead link on a shared timer within its own window', () => {
    const slow = create({ heartbeat: { intervalMs: 2000, timeoutMs: 1000 } })
    const slowFake = FakeWebSocket.last
    slowFake.accept()
    const slowSince = clock.now()
    clock.advance(333)
    const fast = create({ heartbeat })
    const fastFake = FakeWebSocket.last
    fastFake.accept()
    const fastSince = clock.now()
    const detected = new Map<ReconnectingWebSocket, number>()
    for (const socket of [slow, fast]) {
      socket.addEventListener('error', () => detected.set(socket, clock.now()))
    }
    clock.advance(4000)
    // Windows of 3000 ms and 1500 ms, the second starting off the shared timer's beat.
    expect((detected.get(slow) ?? 0) - slowSince).toBeGreaterThanOrEqual(3000)
    expect((detected.get(slow) ?? 0) - slowSince).toBeLessThanOrEqual(3300)
    expect((detected.get(fast) ?? 0) - fastSince).toBeGreaterThanOrEqual(1500)
    expect((detected.get(fast) ?? 0) - fastSince).toBeLessThanOrEqual(1650)
    slow.close()
    fast.close()
  })

  // Ticking at the other's step (999 ms), each of the frame, the ping and the verdict of this
  // one came up to a tick late: 2,957 ms over its window.
  it('detects a dead link within a fifth of its shorter period when a socket with another period shares its clock', () => {
    const other = create({ heartbeat: { intervalMs: 9_990, timeoutMs: 9_990 } })
    FakeWebSocket.last.accept()
    clock.advance(7)
    const socket = create({ heartbeat: { intervalMs: 10_000, timeoutMs: 10_000, ping: 'ping' } })
    const fake = FakeWebSocket.last
    fake.accept()
    clock.advance(13)
    fake.receive('last words')
    fake.blackhole()
    const silentSince = clock.now()
    let detectedAt = 0
    socket.addEventListener('error', () => (detectedAt = clock.now()))
    for (let i = 0; i < 25_000 && !detectedAt; i++) {
      clock.advance(1)
      if (other.readyState === other.OPEN) FakeWebSocket.instances[0]?.receive('alive')
    }
    expect(detectedAt - silentSince).toBeLessThanOrEqual(20_000 + 2_000)
    socket.close()
    other.close()
  })

  it('checkNow() pings an open link at once', () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    socket.checkNow()
    expect(FakeWebSocket.last.sent).toEqual(['ping'])
    socket.close()
  })

  it('lets a ping function send a ping of its own: nothing returned, nothing sent', () => {
    let pinged = 0
    const socket = create({ heartbeat: { ...heartbeat, ping: () => void pinged++ } })
    FakeWebSocket.last.accept()
    socket.checkNow()
    expect([pinged, FakeWebSocket.last.sent]).toEqual([1, []])
    socket.close()
  })

  // A frame 50 ms before the check, and one with no check of the heartbeat's since: a hidden
  // page's timers run late (once a minute, after a while), and a frame that came while they were
  // held back, just before the page is shown, says nothing of the link now.
  it.each([
    ['however recent the last', 50],
    ['its last come since the last check', 0],
  ])('checkNow() takes a link for dead with no frame within timeoutMs, %s', (_, gapMs) => {
    const socket = create({ heartbeat })
    const codes: string[] = []
    socket.addEventListener('error', (event) => codes.push(event.error.code))
    FakeWebSocket.last.accept()
    clock.advance(200)
    FakeWebSocket.last.receive('news')
    clock.advance(gapMs)
    socket.checkNow()
    clock.advance(heartbeat.timeoutMs - 1)
    expect(codes).toEqual([])
    clock.advance(heartbeat.timeoutMs / 5)
    expect(codes).toEqual(['HEARTBEAT_TIMEOUT'])
    expect(FakeWebSocket.last.closedWith?.code).toBe(4000)
    socket.close()
  })

  it('checkNow() keeps a link that answers, and never closes one without pings', () => {
    const socket = create({ heartbeat })
    // Recorded, not failed in the listener: the socket reports what a listener throws
    // (console.error in Node) and goes on, so an expect.fail there passed the test.
    const errors: string[] = []
    socket.addEventListener('error', (event) => errors.push(event.error.code))
    FakeWebSocket.last.accept()
    socket.checkNow()
    clock.advance(10)
    FakeWebSocket.last.receive('pong')
    clock.advance(heartbeat.intervalMs - 100)
    expect(socket.state.status).toBe('open')
    socket.close()
    const quiet = create({ heartbeat: { intervalMs: 1000, timeoutMs: 500 } })
    quiet.addEventListener('error', (event) => errors.push(event.error.code))
    FakeWebSocket.last.accept()
    quiet.checkNow()
    clock.advance(1400)
    expect(quiet.state.status).toBe('open')
    quiet.close()
    expect(errors).toEqual([])
  })
})
