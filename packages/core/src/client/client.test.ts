import { format, inspect } from 'node:util'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { json } from '@lifeline/codec'
import type { LifelineError } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from '../protocol/envelope.js'
import type { RpcMethod } from '../protocol/schema.js'
import { frameSink } from '../reconnectingWebSocket.js'
import { createClient } from './client.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'
import type { RequestOptions } from './client.js'

interface Chat {
  client: { say: { text: string }; error: string }
  server: { said: { text: string }; statechange: number }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
  clientRpc: { confirm: RpcMethod<string, boolean> }
}

const codec = json()
let clock: ManualClock

/** What the fake server received, decoded. */
const received = (socket = FakeWebSocket.last) =>
  socket.sent.map((frame) => codec.decode(frame as string) as Envelope)
const receivedTypes = (socket = FakeWebSocket.last) => received(socket).map((e) => e.t)
const deliver = (envelope: Envelope, socket = FakeWebSocket.last) =>
  socket.receive(codec.encode(envelope))
const flushMicrotasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

function create(options: Partial<ClientOptions> = {}): Client<Chat> {
  return createClient<Chat>({
    url: 'ws://test.local/',
    ...options,
    socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options.socket },
  })
}

/** Opens the current fake socket and completes the handshake. */
function welcome(sid = 'S1', resumed = false, a = 0, socket = FakeWebSocket.last) {
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid, resumed, a } }, socket)
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('handshake', () => {
  it('offers the codecs as subprotocols, says $hello first and is open on $welcome', () => {
    const client = create()
    expect(FakeWebSocket.last.protocols).toEqual(['lifeline.v1.json'])
    expect(client.state.status).toBe('connecting')
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()).toEqual([{ t: '$hello', d: { v: 1, r: 1, rs: 1, max: 1_048_576 } }])
    expect(client.state.status).toBe('connecting')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    expect(client.state).toMatchObject({ status: 'open', sessionId: 'S1', resumed: false })
    client.close()
  })

  it('holds messages sent before $welcome and sends them numbered after it, in order', () => {
    const client = create()
    client.send('say', { text: 'one' })
    client.send('say', { text: 'two' })
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(receivedTypes()).toEqual(['$hello'])
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    expect(received().slice(1)).toEqual([
      { t: 'say', d: { text: 'one' }, s: 1, a: 0 },
      { t: 'say', d: { text: 'two' }, s: 2, a: 0 },
    ])
    expect(client.unacked).toBe(2)
    deliver({ t: '$ack', a: 2 })
    expect(client.unacked).toBe(0)
    client.close()
  })

  it('refuses a server that chose no Lifeline subprotocol', () => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    FakeWebSocket.last.accept('')
    expect(errors.map((error) => error.code)).toEqual(['PROTOCOL_ERROR'])
    expect(errors[0]?.message).toMatch(/Lifeline subprotocol/)
  })

  it('ends on a server that chose no Lifeline subprotocol as on a fatal close: receipts reject', async () => {
    const client = create()
    const receipt = client.delivered(client.send('say', { text: 'hi' }))
    FakeWebSocket.last.accept('')
    await expect(receipt).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' })
    expect(client.state).toMatchObject({
      status: 'closed',
      closeCode: 4002,
      lastError: { code: 'PROTOCOL_ERROR' },
    })
    await expect(client.delivered(client.send('say', { text: 'again' }))).rejects.toMatchObject({
      code: 'PROTOCOL_ERROR',
    })
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('reports $error from the server', () => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$error', d: { code: 'TOO_MANY', message: 'slow down' } })
    expect(errors[0]).toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'TOO_MANY' })
    client.close()
  })

  it('reports an $error whose fields are not strings, objects without toString included', () => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    FakeWebSocket.last.accept('lifeline.v1.json')
    // `String()` of either throws: an object's `toString` that is no function, and no valueOf.
    deliver({ t: '$error', d: { code: { toString: 1 }, message: { valueOf: 1, toString: 2 } } })
    deliver({ t: '$error', d: { code: 7, message: ['x'] } })
    expect(reported).not.toHaveBeenCalled()
    expect(errors).toMatchObject([
      { code: 'REMOTE_ERROR', remoteCode: 'UNKNOWN', message: 'server: error' },
      { code: 'REMOTE_ERROR', remoteCode: 'UNKNOWN', message: 'server: error' },
    ])
    reported.mockRestore()
    client.close()
  })
})

describe('reliable delivery', () => {
  it('dispatches inbound messages once and in order, dropping duplicates', () => {
    const client = create()
    const texts: string[] = []
    client.on('said', (data) => texts.push(data.text))
    welcome()
    deliver({ t: 'said', d: { text: 'a' }, s: 1 })
    deliver({ t: 'said', d: { text: 'b' }, s: 2 })
    deliver({ t: 'said', d: { text: 'a' }, s: 1 })
    deliver({ t: 'said', d: { text: 'c' }, s: 3 })
    expect(texts).toEqual(['a', 'b', 'c'])
    client.close()
  })

  it('batches acknowledgements: after ackEvery messages, or ackDelayMs after the first', () => {
    const client = create({ ackEvery: 4, ackDelayMs: 20 })
    welcome()
    for (let s = 1; s <= 5; s++) deliver({ t: 'said', d: { text: String(s) }, s })
    expect(received().filter((e) => e.t === '$ack')).toEqual([{ t: '$ack', a: 4 }])
    clock.advance(19)
    expect(received().filter((e) => e.t === '$ack')).toHaveLength(1)
    clock.advance(1)
    expect(
      received()
        .filter((e) => e.t === '$ack')
        .at(-1),
    ).toEqual({ t: '$ack', a: 5 })
    client.close()
  })

  it('piggybacks the ack on outgoing messages instead of sending $ack', () => {
    const client = create({ ackDelayMs: 20 })
    welcome()
    deliver({ t: 'said', d: { text: 'x' }, s: 1 })
    client.send('say', { text: 'reply' })
    clock.advance(100)
    expect(received().slice(1)).toEqual([{ t: 'say', d: { text: 'reply' }, s: 1, a: 1 }])
    client.close()
  })

  it('resumes after a reconnect: asks with sid and ack, resends only what the server lacks', () => {
    const client = create()
    const first = FakeWebSocket.last
    welcome('S1')
    deliver({ t: 'said', d: { text: 'a' }, s: 1 }, first)
    client.send('say', { text: '1' })
    client.send('say', { text: '2' })
    first.fail()
    client.send('say', { text: '3' })
    clock.advance(250)
    const second = FakeWebSocket.last
    second.accept('lifeline.v1.json')
    expect(received(second)).toEqual([
      { t: '$hello', d: { v: 1, r: 1, rs: 1, sid: 'S1', a: 1, sa: 0, max: 1_048_576 } },
    ])
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 1 } }, second)
    expect(
      received(second)
        .slice(1)
        .map((e) => [e.s, (e.d as { text: string }).text]),
    ).toEqual([
      [2, '2'],
      [3, '3'],
    ])
    expect(client.state).toMatchObject({ status: 'open', resumed: true })
    client.close()
  })

  it('says in a resuming $hello the highest a it got (sa), counted again in a new session', () => {
    const client = create()
    welcome('S1')
    client.send('say', { text: '1' })
    client.send('say', { text: '2' })
    client.send('say', { text: '3' })
    deliver({ t: '$ack', a: 2 })
    FakeWebSocket.last.fail()
    clock.advance(250)
    const second = FakeWebSocket.last
    second.accept('lifeline.v1.json')
    // A process that took the session from a store holding fewer than 2 of our messages resets
    // it rather than answer with an `a` below 2.
    expect(received(second)[0]).toMatchObject({ t: '$hello', d: { sid: 'S1', a: 0, sa: 2 } })
    // A new session: '3' goes again as its 1, acknowledged, and the outbox is empty.
    deliver({ t: '$welcome', d: { sid: 'S2', resumed: false, a: 0 } }, second)
    expect(received(second).slice(1)).toMatchObject([{ t: 'say', s: 1 }])
    deliver({ t: '$ack', a: 1 }, second)
    expect(client.unacked).toBe(0)
    second.fail()
    clock.advance(2_000)
    const third = FakeWebSocket.last
    expect(third).not.toBe(second)
    third.accept('lifeline.v1.json')
    expect(received(third)[0]).toMatchObject({ t: '$hello', d: { sid: 'S2', a: 0, sa: 1 } })
    client.close()
  })

  it("tells 'reset' and resends unacknowledged messages as new when the session is gone", () => {
    const client = create()
    const resets: unknown[] = []
    client.events.on('reset', (event) => resets.push(event))
    const texts: string[] = []
    client.on('said', (data) => texts.push(data.text))
    welcome('S1')
    deliver({ t: 'said', d: { text: 'old' }, s: 1 })
    client.send('say', { text: '1' })
    client.send('say', { text: '2' })
    deliver({ t: '$ack', a: 1 })
    FakeWebSocket.last.fail()
    clock.advance(250)
    welcome('S2', false, 0)
    expect(resets).toEqual([{ previousSessionId: 'S1', sessionId: 'S2', resent: 1 }])
    expect(received().slice(1)).toEqual([{ t: 'say', d: { text: '2' }, s: 1, a: 0 }])
    deliver({ t: 'said', d: { text: 'new' }, s: 1 })
    expect(texts).toEqual(['old', 'new'])
    client.close()
  })

  it('drops the link on a sequence gap, reports it, and resumes after the backoff', () => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome()
    const first = FakeWebSocket.last
    deliver({ t: 'said', d: { text: 'a' }, s: 2 })
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(first.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    expect(client.state).toMatchObject({ status: 'reconnecting', delayMs: 250, closeCode: 4002 })
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    client.close()
  })

  it('drops the link on an undecodable frame and resumes after the backoff', () => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome()
    FakeWebSocket.last.receive('{not json')
    expect(errors).toEqual(['DECODE_FAILED'])
    expect(client.state.status).toBe('reconnecting')
    clock.advance(250)
    expect(FakeWebSocket.instances).toHaveLength(2)
    client.close()
  })

  it("reports a fire-and-forget message as 'drop' while the link is down", () => {
    const client = create()
    const drops: unknown[] = []
    client.events.on('drop', (event) => drops.push(event))
    client.send('say', { text: 'lost?' }, { reliable: false })
    expect(drops).toEqual([{ type: 'say', data: { text: 'lost?' }, reason: 'offline' }])
    welcome()
    client.send('say', { text: 'now' }, { reliable: false })
    expect(received().at(-1)).toEqual({ t: 'say', d: { text: 'now' } })
    client.close()
  })

  it('refuses data the codec cannot encode at send(), up or down, and keeps nothing', () => {
    const client = create()
    const bad = { text: 10n } as unknown as { text: string }
    expect(() => client.send('say', bad)).toThrow(
      expect.objectContaining({ code: 'ENCODE_FAILED' }),
    )
    welcome()
    expect(() => client.send('say', bad)).toThrow(
      expect.objectContaining({ code: 'ENCODE_FAILED' }),
    )
    expect(client.unacked).toBe(0)
    client.send('say', { text: 'fine' })
    expect(received().at(-1)).toMatchObject({ t: 'say', s: 1 })
    client.close()
  })

  it('throws QUEUE_FULL when maxUnacked messages await acknowledgement', () => {
    const client = create({ maxUnacked: 2 })
    client.send('say', { text: '1' })
    client.send('say', { text: '2' })
    expect(() => client.send('say', { text: '3' })).toThrow(
      expect.objectContaining({ code: 'QUEUE_FULL' }),
    )
    client.close()
  })

  it('throws QUEUE_FULL when maxUnackedBytes of encoded messages await acknowledgement', async () => {
    // Each `say` below encodes to 1,042 bytes: {"t":"say","d":{"text":"xx…"},"s":1,"a":0}.
    const text = 'x'.repeat(1000)
    const client = create({ maxUnackedBytes: 2100 })
    client.send('say', { text })
    client.send('say', { text })
    expect(() => client.send('say', { text })).toThrow(
      expect.objectContaining({ code: 'QUEUE_FULL' }),
    )
    await expect(client.request('add', { a: 1, b: 2 })).rejects.toMatchObject({
      code: 'QUEUE_FULL',
    })
    welcome()
    expect(receivedTypes()).toEqual(['$hello', 'say', 'say'])
    expect(() => client.send('say', { text })).toThrow(
      expect.objectContaining({ code: 'QUEUE_FULL' }),
    )
    deliver({ t: '$ack', a: 2 })
    client.send('say', { text })
    expect(received().at(-1)).toMatchObject({ t: 'say', s: 3 })
    client.close()
  })

  it('encodes a reliable message once, whether it goes out now or after $welcome', () => {
    const counting = json()
    let encodes = 0
    const encode = counting.encode.bind(counting)
    counting.encode = (value) => {
      encodes++
      return encode(value)
    }
    const client = create({ codecs: [counting] })
    welcome()
    encodes = 0
    client.send('say', { text: 'now' })
    expect(encodes).toBe(1)
    expect(received().at(-1)).toEqual({ t: 'say', d: { text: 'now' }, s: 1, a: 0 })
    client.close()
  })
})

describe('RPC', () => {
  it('takes null options, as plain JavaScript passes them, for no options', async () => {
    const client = create()
    welcome()
    const none = null as unknown as undefined
    client.send('say', { text: 'hi' }, none)
    expect(received().at(-1)).toMatchObject({ t: 'say', s: 1 })
    const result = client.request('add', { a: 1, b: 2 }, none)
    expect(received().at(-1)).toMatchObject({ t: '$req', s: 2, d: { id: 1, m: 'add' } })
    deliver({ t: '$res', d: { id: 1, d: 3 }, s: 1, a: 2 })
    await expect(result).resolves.toBe(3)
    client.close()
  })

  it('resolves with the typed response', async () => {
    const client = create()
    welcome()
    const result = client.request('add', { a: 1, b: 2 })
    const request = received().at(-1)
    expect(request).toMatchObject({ t: '$req', s: 1, d: { id: 1, m: 'add', d: { a: 1, b: 2 } } })
    deliver({ t: '$res', d: { id: 1, d: 3 }, s: 1, a: 1 })
    await expect(result).resolves.toBe(3)
    client.close()
  })

  it('rejects with REMOTE_ERROR carrying the server code and message', async () => {
    const client = create()
    welcome()
    const result = client.request('add', { a: 1, b: 2 })
    deliver({ t: '$res', d: { id: 1, e: { code: 'OVERFLOW', message: 'too big' } }, s: 1 })
    await expect(result).rejects.toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'OVERFLOW' })
    client.close()
  })

  it('rejects with REQUEST_TIMEOUT, then ignores the late response', async () => {
    const client = create()
    welcome()
    const result = client.request('add', { a: 1, b: 2 }, { timeoutMs: 100 })
    clock.advance(100)
    await expect(result).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT' })
    expect(() => deliver({ t: '$res', d: { id: 1, d: 3 }, s: 1 })).not.toThrow()
    client.close()
  })

  it('takes back a request its caller gave up on before any link carried it', async () => {
    const client = create({ maxUnacked: 10 })
    welcome()
    const kept = client
      .request('add', { a: 0, b: 0 }, { timeoutMs: 50 })
      .catch((error: LifelineError) => error.code)
    FakeWebSocket.last.serverClose(1006, '', false)
    // Offline for a while, a request now and then, each given up (aborted, or timed out): none
    // fills the outbox.
    for (let n = 1; n <= 20; n++) {
      const controller = new AbortController()
      const { signal } = controller
      const given = client.request('add', { a: n, b: n }, { timeoutMs: 100, signal })
      if (n % 2) controller.abort()
      clock.advance(100)
      await expect(given).rejects.toMatchObject({ code: n % 2 ? 'ABORTED' : 'REQUEST_TIMEOUT' })
    }
    expect(await kept).toBe('REQUEST_TIMEOUT')
    const sent = client.send('say', { text: 'after' })
    const wanted = client.request('add', { a: 2, b: 3 })
    // The one written on the last link stays: the server may have taken it.
    expect(client.unacked).toBe(3)
    welcome('S1', true, 0)
    expect(received().slice(1)).toEqual([
      { t: '$req', d: { id: 1, m: 'add', d: { a: 0, b: 0 } }, s: 1, a: 0 },
      { t: 'say', d: { text: 'after' }, s: 2, a: 0 },
      { t: '$req', d: { id: 22, m: 'add', d: { a: 2, b: 3 } }, s: 3, a: 0 },
    ])
    deliver({ t: '$res', d: { id: 22, d: 5 }, s: 1, a: 3 })
    await expect(wanted).resolves.toBe(5)
    await expect(client.delivered(sent)).resolves.toBeUndefined()
    client.close()
  })

  it('takes back a request that close() or its own end rejected before any link carried it', async () => {
    // Its caller was told it failed: sent after connect(), it ran on the server all the same,
    // its answer ignored, and a caller that tried again had it run twice.
    const client = create()
    const closed = client.request('add', { a: 1, b: 1 })
    client.close()
    await expect(closed).rejects.toMatchObject({ code: 'CLOSED' })
    client.connect()
    welcome('S1')
    const carried = client.request('add', { a: 2, b: 2 })
    expect(received().slice(1)).toEqual([
      { t: '$req', d: { id: 2, m: 'add', d: { a: 2, b: 2 } }, s: 1, a: 0 },
    ])
    FakeWebSocket.last.fail()
    const ended = client.request('add', { a: 3, b: 3 })
    await flushMicrotasks()
    clock.advance(250)
    FakeWebSocket.last.accept('lifeline.v1.json')
    FakeWebSocket.last.serverClose(4401, 'unauthenticated')
    await expect(carried).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    await expect(ended).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    client.connect()
    welcome('S1', true, 0)
    // The one a link carried stays: the server may have it.
    expect(received().slice(1)).toEqual([
      { t: '$req', d: { id: 2, m: 'add', d: { a: 2, b: 2 } }, s: 1, a: 0 },
    ])
    expect(client.unacked).toBe(1)
    client.close()
  })

  it('rejects a timeout that is not a positive number, and sends nothing for it', async () => {
    const client = create()
    welcome()
    // From plain JavaScript too: a string was added to the clock as text, a BigInt threw once
    // the request was out.
    const fromJavaScript = ['60000', 5_000n, Symbol('ms'), [5_000], true] as unknown as number[]
    for (const timeoutMs of [0, -1, Number.NaN, ...fromJavaScript]) {
      await expect(client.request('add', { a: 1, b: 2 }, { timeoutMs })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
    }
    expect(receivedTypes()).toEqual(['$hello'])
    client.close()
  })

  it('rejects a signal that is no AbortSignal, and sends nothing for it', async () => {
    const client = create()
    welcome()
    for (const signal of [{}, 'abort', { aborted: false }]) {
      const options = { signal } as unknown as RequestOptions
      await expect(client.request('add', { a: 1, b: 2 }, options)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
    }
    expect(receivedTypes()).toEqual(['$hello'])
    client.close()
  })

  it('takes a null signal, as fetch does, for none', async () => {
    const client = create()
    welcome()
    const options = { signal: null } as unknown as RequestOptions
    const result = client.request('add', { a: 1, b: 2 }, options)
    expect(received().at(-1)).toMatchObject({ t: '$req', d: { id: 1, m: 'add' } })
    deliver({ t: '$res', d: { id: 1, d: 3 }, s: 1, a: 1 })
    await expect(result).resolves.toBe(3)
    client.close()
  })

  it('refuses a handler that is no function, and a method name that is no string', () => {
    const client = create()
    welcome()
    const notAFunction = 'handler' as unknown as () => void
    for (const subscribe of [client.on, client.once]) {
      expect(() => subscribe.call(client, 'said', notAFunction)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    expect(() => client.handle('confirm', undefined as unknown as () => boolean)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => client.handle(42 as unknown as 'confirm', () => true)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    // Nothing was registered: the server's request finds no method.
    deliver({ t: '$req', d: { id: 1, m: 'confirm', d: 'sure?' }, s: 1 })
    expect(received().at(-1)).toMatchObject({ t: '$res', d: { id: 1, e: { code: 'NOT_FOUND' } } })
    client.close()
  })

  it('rejects with ABORTED when its signal aborts, and at once for an aborted signal', async () => {
    const client = create()
    welcome()
    const controller = new AbortController()
    const result = client.request('add', { a: 1, b: 2 }, { signal: controller.signal })
    const reason = new Error('the user left the page')
    controller.abort(reason)
    // The signal's reason is the cause: a caller tells its own abort from a timeout signal's.
    await expect(result).rejects.toMatchObject({ code: 'ABORTED', cause: reason })
    await expect(
      client.request('add', { a: 1, b: 2 }, { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED', cause: reason })
    await expect(
      client.request('add', { a: 1, b: 2 }, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'ABORTED', cause: { name: 'AbortError' } })
    client.close()
  })

  it('rejects pending requests with CLOSED on close(), leaving no timer', async () => {
    const client = create()
    welcome()
    const result = client.request('add', { a: 1, b: 2 })
    client.close()
    await expect(result).rejects.toMatchObject({ code: 'CLOSED' })
    await flushMicrotasks()
    expect(clock.pending).toBe(0)
  })

  it('leaves no timer once the link is closed for good after its requests were answered', async () => {
    const client = create()
    welcome()
    const result = client.request('add', { a: 1, b: 2 })
    deliver({ t: '$res', d: { id: 1, d: 3 }, s: 1, a: 1 })
    await expect(result).resolves.toBe(3)
    // The server refuses the client for good: nothing reconnects, and nothing may stay armed.
    FakeWebSocket.last.serverClose(4403, 'forbidden')
    expect(client.state.status).toBe('closed')
    await flushMicrotasks()
    expect(clock.pending).toBe(0)
  })

  it('survives a reconnect: the request is resent and answered once', async () => {
    const client = create()
    welcome('S1')
    const result = client.request('add', { a: 2, b: 2 })
    FakeWebSocket.last.fail()
    clock.advance(250)
    welcome('S1', true, 0)
    expect(received().slice(1)).toMatchObject([{ t: '$req', s: 1, d: { id: 1, m: 'add' } }])
    deliver({ t: '$res', d: { id: 1, d: 4 }, s: 1 })
    await expect(result).resolves.toBe(4)
    client.close()
  })

  it('answers server requests with its handlers, NOT_FOUND for unknown methods', async () => {
    const client = create()
    client.handle('confirm', (question) => question === 'sure?')
    welcome()
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    deliver({ t: '$req', d: { id: 8, m: 'nope', d: null }, s: 2 })
    await flushMicrotasks()
    const responses = received().filter((e) => e.t === '$res')
    expect(responses.map((e) => e.d)).toEqual([
      { id: 8, e: { code: 'NOT_FOUND', message: "no method 'nope' on this client" } },
      { id: 7, d: true },
    ])
    client.close()
  })

  it('refuses a second handler for a method until the first is removed, as the server does', async () => {
    const client = create()
    const removeFirst = client.handle('confirm', () => true)
    expect(() => client.handle('confirm', () => false)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('confirm'),
      }),
    )
    welcome()
    deliver({ t: '$req', d: { id: 1, m: 'confirm', d: 'sure?' }, s: 1 })
    await flushMicrotasks()
    removeFirst()
    const removeSecond = client.handle('confirm', () => false)
    deliver({ t: '$req', d: { id: 2, m: 'confirm', d: 'sure?' }, s: 2 })
    await flushMicrotasks()
    // The first remover, called again, leaves the second in place.
    removeFirst()
    deliver({ t: '$req', d: { id: 3, m: 'confirm', d: 'sure?' }, s: 3 })
    await flushMicrotasks()
    removeSecond()
    deliver({ t: '$req', d: { id: 4, m: 'confirm', d: 'sure?' }, s: 4 })
    await flushMicrotasks()
    expect(
      received()
        .filter((e) => e.t === '$res')
        .map((e) => e.d),
    ).toMatchObject([
      { id: 1, d: true },
      { id: 2, d: false },
      { id: 3, d: false },
      { id: 4, e: { code: 'NOT_FOUND' } },
    ])
    client.close()
  })

  it('keeps an answer that comes while the client is closed, and sends it on connect()', async () => {
    const client = create()
    let answer!: (yes: boolean) => void
    client.handle('confirm', () => new Promise<boolean>((resolve) => (answer = resolve)))
    welcome()
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    await flushMicrotasks()
    client.close()
    await flushMicrotasks()
    expect(client.state.status).toBe('closed')
    answer(true)
    await flushMicrotasks()
    // The server's session outlives the close: its request waits for this answer.
    client.connect()
    welcome('S1', true, 0)
    expect(received().filter((e) => e.t === '$res')).toEqual([
      { t: '$res', d: { id: 7, d: true }, s: 1, a: 1 },
    ])
    client.close()
  })
})

describe('answering server requests it cannot answer as asked', () => {
  const answers = () =>
    received()
      .filter((e) => e.t === '$res')
      .map((e) => e.d)

  it('answers ENCODE_FAILED for a result the codec refuses, and emits error', async () => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    client.handle('confirm', () => 10n as unknown as boolean)
    welcome()
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    await flushMicrotasks()
    expect(answers()).toEqual([
      { id: 7, e: { code: 'ENCODE_FAILED', message: expect.any(String) as string } },
    ])
    expect(errors).toEqual([expect.objectContaining({ code: 'ENCODE_FAILED' })])
    expect(errors[0]?.message).toContain("request 'confirm'")
    client.close()
  })

  it('answers INTERNAL for a rejection whose fields throw when read', async () => {
    const client = create()
    const hostile = {
      get code(): string {
        throw new Error('a getter that throws')
      },
    }
    client.handle('confirm', () => Promise.reject(hostile as unknown as Error))
    welcome()
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    await flushMicrotasks()
    expect(answers()).toEqual([{ id: 7, e: { code: 'INTERNAL', message: 'internal error' } }])
    client.close()
  })

  it('answers INTERNAL for a throw that cannot be printed', async () => {
    // Node's console prints an error by its `stack` and an object by its custom inspect, each
    // of which may throw: reporting the throw first took the answer with it, and the server's
    // request waited out its timeout.
    const printed: string[] = []
    const reported = vi
      .spyOn(console, 'error')
      .mockImplementation((...args: unknown[]) => void printed.push(format(...args)))
    try {
      const client = create()
      const stackless = new Error('no stack')
      Object.defineProperty(stackless, 'stack', {
        get: () => {
          throw new Error('a stack getter that throws')
        },
      })
      const unprintable = {
        [inspect.custom](): never {
          throw new Error('an inspect that throws')
        },
      }
      client.handle('confirm', (question) => {
        throw question === 'stack' ? stackless : unprintable
      })
      welcome()
      deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'stack' }, s: 1 })
      deliver({ t: '$req', d: { id: 8, m: 'confirm', d: 'inspect' }, s: 2 })
      await flushMicrotasks()
      expect(answers()).toEqual([
        { id: 7, e: { code: 'INTERNAL', message: 'internal error' } },
        { id: 8, e: { code: 'INTERNAL', message: 'internal error' } },
      ])
      // Each reported as a listener's throw, without the value.
      expect(printed).toEqual(['lifeline: listener threw', 'lifeline: listener threw'])
      client.close()
    } finally {
      reported.mockRestore()
    }
  })

  it('answers MESSAGE_TOO_LARGE for a result over maxBytes', async () => {
    const client = create({ codecs: [json({ maxBytes: 1024 })] })
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    client.handle('confirm', () => 'x'.repeat(2048) as unknown as boolean)
    welcome()
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    await flushMicrotasks()
    expect(answers()).toMatchObject([{ id: 7, e: { code: 'MESSAGE_TOO_LARGE' } }])
    expect(errors).toMatchObject([{ code: 'MESSAGE_TOO_LARGE' }])
    client.close()
  })

  it('answers QUEUE_FULL past maxUnacked when the outbox is full, and errors as they are', async () => {
    const client = create({ maxUnacked: 2 })
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    client.handle('confirm', () => true)
    welcome()
    client.send('say', { text: '1' })
    client.send('say', { text: '2' })
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    deliver({ t: '$req', d: { id: 8, m: 'nope', d: null }, s: 2 })
    await flushMicrotasks()
    expect(answers()).toMatchObject([
      { id: 8, e: { code: 'NOT_FOUND' } },
      { id: 7, e: { code: 'QUEUE_FULL' } },
    ])
    expect(errors).toMatchObject([{ code: 'QUEUE_FULL' }])
    expect(client.unacked).toBe(4)
    client.close()
  })

  it('keeps error answers up to twice maxUnacked, then drops the link of a server that acknowledges none (4002)', async () => {
    const client = create({ maxUnacked: 2 })
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    welcome()
    const socket = FakeWebSocket.last
    // Requests for a method the client does not have, and never an acknowledgement.
    for (let s = 1; s <= 10 && socket.readyState === FakeWebSocket.OPEN; s++) {
      deliver({ t: '$req', d: { id: s, m: 'nope', d: null }, s })
      await flushMicrotasks()
    }
    expect(client.unacked).toBe(4)
    expect(answers()).toHaveLength(4)
    expect(socket.closedWith).toEqual({ code: 4002, reason: 'answers unacknowledged' })
    expect(errors.at(-1)).toMatchObject({ code: 'PROTOCOL_ERROR' })
    expect(client.state).toMatchObject({ status: 'reconnecting', closeCode: 4002 })
    client.close()
  })

  it('answers QUEUE_FULL with the outbox full offline, and sends it on resume', async () => {
    const client = create({ maxUnacked: 1 })
    client.handle('confirm', () => true)
    welcome('S1')
    client.send('say', { text: '1' })
    deliver({ t: '$req', d: { id: 7, m: 'confirm', d: 'sure?' }, s: 1 })
    FakeWebSocket.last.fail()
    await flushMicrotasks()
    clock.advance(250)
    welcome('S1', true, 0)
    expect(answers()).toMatchObject([{ id: 7, e: { code: 'QUEUE_FULL' } }])
    client.close()
  })
})

describe('state, heartbeat and events', () => {
  it('keeps lifecycle events apart from message types of the same name', () => {
    const client = create()
    const messages: number[] = []
    const transitions: string[] = []
    client.on('statechange', (data) => messages.push(data))
    client.events.on('statechange', (state, previous) =>
      transitions.push(`${previous.status}>${state.status}`),
    )
    welcome()
    deliver({ t: 'statechange', d: 42, s: 1 })
    expect(messages).toEqual([42])
    expect(transitions).toEqual(['connecting>open'])
    client.close()
  })

  it('gives a stable snapshot and notifies subscribers on change only', () => {
    const client = create()
    const listener = vi.fn()
    client.subscribe(listener)
    const before = client.state
    expect(client.state).toBe(before)
    welcome()
    expect(listener).toHaveBeenCalledTimes(1)
    expect(client.state).not.toBe(before)
    FakeWebSocket.last.fail()
    expect(client.state).toMatchObject({ status: 'reconnecting', closeCode: 1006, delayMs: 250 })
    client.close()
    expect(client.state.status).toBe('closed')
  })

  it('pings when quiet, measures RTT from $pong, answers $ping', () => {
    const client = create({ heartbeat: { intervalMs: 1000, timeoutMs: 500 } })
    welcome()
    clock.advance(1100)
    expect(received().at(-1)?.t).toBe('$ping')
    client.socket.checkNow()
    const ping = received().at(-1)
    expect(ping).toEqual({ t: '$ping', d: { ts: clock.now() } })
    clock.advance(30)
    deliver({ t: '$pong', d: ping?.d })
    expect(client.rtt).toBe(30)
    deliver({ t: '$ping', d: { ts: 5 } })
    expect(received().at(-1)).toEqual({ t: '$pong', d: { ts: 5 } })
    client.close()
  })

  it.each([
    ['over 1 KiB', { ts: 5, pad: 'x'.repeat(512 * 1024) }],
    ['without a numeric ts', { when: 5 }],
  ])('refuses a $ping %s as a protocol violation, unanswered', (_, d) => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome()
    const first = FakeWebSocket.last
    deliver({ t: '$ping', d }, first)
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(first.readyState).not.toBe(FakeWebSocket.OPEN)
    expect(received(first).some((e) => e.t === '$pong')).toBe(false)
    client.close()
  })

  it('answers a $ping with its ts only', () => {
    const client = create()
    welcome()
    deliver({ t: '$ping', d: { ts: 7, extra: 'y'.repeat(100) } })
    expect(received().at(-1)).toEqual({ t: '$pong', d: { ts: 7 } })
    client.close()
  })

  it('survives lifecycle listeners and subscribers that throw', () => {
    const reportError = vi.fn()
    vi.stubGlobal('reportError', reportError)
    try {
      const client = create()
      client.events.on('statechange', () => {
        throw new Error('listener bug')
      })
      client.subscribe(() => {
        throw new Error('subscriber bug')
      })
      const texts: string[] = []
      client.on('said', (data) => texts.push(data.text))
      welcome()
      deliver({ t: 'said', d: { text: 'a' }, s: 1 })
      expect(client.state.status).toBe('open')
      expect(texts).toEqual(['a'])
      expect(reportError).toHaveBeenCalledTimes(2)
      client.events.off()
      client.close()
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('throws CLOSED after close() and works again after connect()', () => {
    const client = create()
    client.close()
    expect(() => client.send('say', { text: 'x' })).toThrow(
      expect.objectContaining({ code: 'CLOSED' }),
    )
    client.connect()
    client.send('say', { text: 'x' })
    welcome()
    expect(receivedTypes()).toEqual(['$hello', 'say'])
    client.close()
  })

  it('keeps an open link on connect(), as connecting an open socket.io client does', () => {
    const client = create()
    welcome()
    const socket = FakeWebSocket.last
    // An 'online' listener that calls connect() must not drop a healthy link and resume.
    client.connect()
    expect(FakeWebSocket.last).toBe(socket)
    expect(client.state.status).toBe('open')
    client.send('say', { text: 'x' })
    expect(receivedTypes(socket)).toEqual(['$hello', 'say'])
    client.close()
  })

  it('makes the attempt on connect() that a canConnect saying no held back', () => {
    let ready = false
    const client = create({ socket: { canConnect: () => ready } })
    // Connecting, but no attempt: the socket waits for its reconnect().
    expect(client.state.status).toBe('connecting')
    expect(FakeWebSocket.instances).toHaveLength(0)
    ready = true
    client.connect()
    expect(FakeWebSocket.instances).toHaveLength(1)
    welcome()
    expect(client.state.status).toBe('open')
    client.close()
  })

  it('makes an attempt in backoff now on connect()', () => {
    const client = create()
    welcome()
    FakeWebSocket.last.fail()
    expect(client.state.status).toBe('reconnecting')
    const before = FakeWebSocket.instances.length
    client.connect()
    expect(FakeWebSocket.instances).toHaveLength(before + 1)
    expect(client.state.status).toBe('connecting')
    client.close()
  })

  it('refuses a bad close() at the call and stays as it was', () => {
    const client = create()
    welcome()
    for (const [code, reason] of [
      [1001, ''],
      [1005, ''],
      [5000, ''],
      [1000, 'é'.repeat(62)],
    ]) {
      expect(() => client.close(code as number, reason as string)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    expect(client.state.status).toBe('open')
    client.send('say', { text: 'still here' })
    expect(receivedTypes()).toEqual(['$hello', 'say'])
    client.close(4000, 'é'.repeat(61))
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 4000, reason: 'é'.repeat(61) })
  })

  it("refuses '$' message types at run time", () => {
    const client = create()
    expect(() => client.send('$hello' as 'say', { text: '' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    client.close()
  })
})

describe('fatal closes', () => {
  it("reports 4409 (session taken over) without an '$error' frame, and stops", () => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    welcome()
    FakeWebSocket.last.serverClose(4409, 'session taken over')
    expect(errors).toEqual([
      expect.objectContaining({ code: 'SESSION_TAKEN_OVER', closeCode: 4409 }),
    ])
    expect(client.state).toMatchObject({ status: 'closed', closeCode: 4409, lastError: errors[0] })
  })

  it.each([1002, 1003, 1007, 1008, 1009, 1010])('reports the fatal close %i', (code) => {
    const client = create()
    const errors: LifelineError[] = []
    client.events.on('error', (error) => errors.push(error))
    welcome()
    FakeWebSocket.last.serverClose(code)
    expect(errors).toEqual([expect.objectContaining({ closeCode: code })])
    expect(client.state.status).toBe('closed')
  })
})

describe('raw mode', () => {
  it('sends and receives { t, d } frames over the socket queue, with no handshake', () => {
    const client = create({ mode: 'raw' })
    const texts: string[] = []
    client.on('said', (data) => texts.push(data.text))
    client.send('say', { text: 'queued' })
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.protocols).toEqual([])
    expect(received()).toEqual([{ t: 'say', d: { text: 'queued' } }])
    deliver({ t: 'said', d: { text: 'hi' } })
    expect(texts).toEqual(['hi'])
    expect(client.state.status).toBe('open')
    client.close()
  })

  it('uses a custom framing', () => {
    const client = create({
      mode: 'raw',
      framing: {
        wrap: (type, data) => ({ type, ...(data as object) }),
        unwrap: (value) => {
          const { type, ...data } = value as { type: string }
          return { type, data }
        },
      },
    })
    const texts: string[] = []
    client.on('said', (data) => texts.push(data.text))
    FakeWebSocket.last.accept()
    client.send('say', { text: 'x' })
    expect(received()).toEqual([{ type: 'say', text: 'x' }] as unknown as Envelope[])
    FakeWebSocket.last.receive(codec.encode({ type: 'said', text: 'y' }))
    expect(texts).toEqual(['y'])
    client.close()
  })

  it('rejects request() in raw mode', async () => {
    const client = create({ mode: 'raw' })
    await expect(client.request('add', { a: 1, b: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    client.close()
  })
})

describe('options', () => {
  it.each([
    [{ overflow: 'drop-oldest' }, "'overflow'"],
    [{ socket: { WebSocket: FakeWebSocket, retries: 3 } }, "'socket.retries'"],
    [{ socket: { WebSocket: FakeWebSocket, queue: { max: 3 } } }, "'socket.queue.max'"],
    [{ heartbeat: { interval: 5 } }, "'heartbeat.interval'"],
  ])('refuses an unknown option %j with INVALID_ARGUMENT naming it', (extra, name) => {
    const options = { url: 'ws://test.local/', ...extra } as unknown as ClientOptions
    expect(() => createClient(options)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(name) }),
    )
    expect(FakeWebSocket.instances).toHaveLength(0)
  })

  it.each([
    [{ heartbeat: 5 }],
    [{ heartbeat: null }],
    [{ socket: 'fast' }],
    [{ socket: { WebSocket: FakeWebSocket, queue: null } }],
    [{ maxUnacked: -1 }],
    [{ ackDelayMs: '20' }],
    [{ requestTimeoutMs: Number.NaN }],
    [{ requestTimeoutMs: 0 }],
  ])('refuses %j with INVALID_ARGUMENT', (extra) => {
    const options = { url: 'ws://test.local/', ...extra } as unknown as ClientOptions
    expect(() => createClient(options)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(FakeWebSocket.instances).toHaveLength(0)
  })

  it("refuses in protocol mode a codec whose maxBytes is under a control frame's cap", () => {
    // Its `max` in `$hello` is one no server may take (PROTOCOL.md, 9): every handshake failed
    // with 1002, and the client ended for good at its first connection.
    const codecs = [json(), json({ maxBytes: 1_023 })]
    expect(() => createClient({ url: 'ws://test.local/', codecs })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('at least 1024'),
      }),
    )
    expect(FakeWebSocket.instances).toHaveLength(0)
    // Raw mode has no handshake: any limit goes, and 1,024 is enough for the protocol.
    const socket = { WebSocket: FakeWebSocket, clock }
    createClient({ url: 'ws://test.local/', mode: 'raw', codecs, socket }).close()
    createClient({ url: 'ws://test.local/', codecs: [json({ maxBytes: 1_024 })], socket }).close()
  })
})

describe('raw mode drops', () => {
  it("tells what the socket queue's overflow policy dropped as a client 'drop' event", () => {
    const client = create({
      mode: 'raw',
      socket: {
        WebSocket: FakeWebSocket,
        clock,
        queue: { maxMessages: 2, overflow: 'drop-oldest' },
      },
    })
    const drops: unknown[] = []
    client.events.on('drop', (event) => drops.push(event))
    for (const text of ['a', 'b', 'c']) client.send('say', { text })
    client.socket.send('not a message')
    expect(drops).toEqual([
      { type: 'say', data: { text: 'a' }, reason: 'overflow' },
      { type: 'say', data: { text: 'b' }, reason: 'overflow' },
    ])
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual([
      codec.encode({ t: 'say', d: { text: 'c' } }),
      'not a message',
    ])
    client.close()
  })
})

describe("the client's socket", () => {
  it('gives its message listeners every frame, after the client has handled it', () => {
    const client = create()
    const order: string[] = []
    client.on('said', ({ text }) => order.push(`client ${text}`))
    const frames: unknown[] = []
    client.socket.addEventListener('message', (event) => {
      frames.push(event.data)
      order.push('listener')
    })
    welcome()
    deliver({ t: 'said', d: { text: 'hi' } })
    expect(order).toEqual(['listener', 'client hi', 'listener'])
    expect(frames.map((frame) => (codec.decode(frame as string) as Envelope).t)).toEqual([
      '$welcome',
      'said',
    ])
    client.close()
  })

  it('still gives the frame to its message listeners when the client drops the link for it', () => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    const frames: unknown[] = []
    client.socket.onmessage = (event) => frames.push(event.data)
    welcome()
    FakeWebSocket.last.receive('not json')
    expect(errors).toEqual(['DECODE_FAILED'])
    expect(frames).toHaveLength(2)
    expect(frames[1]).toBe('not json')
    client.close()
  })

  it('gives a message listener added by a client handler the next frame, not the one handled', () => {
    const client = create()
    const texts: string[] = []
    const listener = (event: { data: unknown }) =>
      texts.push(((codec.decode(event.data as string) as Envelope).d as { text: string }).text)
    client.on('said', () => client.socket.addEventListener('message', listener))
    welcome()
    deliver({ t: 'said', d: { text: 'first' } })
    expect(texts).toEqual([])
    deliver({ t: 'said', d: { text: 'second' } })
    expect(texts).toEqual(['second'])
    client.close()
  })

  it('gives an onmessage set by a client handler the next frame, not the one handled', () => {
    const client = create()
    const seen: string[] = []
    client.on('said', ({ text }) => {
      client.socket.onmessage ??= () => seen.push(`set during ${text}`)
    })
    welcome()
    deliver({ t: 'said', d: { text: 'first' } })
    expect(seen).toEqual([])
    deliver({ t: 'said', d: { text: 'second' } })
    expect(seen).toEqual(['set during first'])
    client.close()
  })

  it('gives an onmessage that a client handler puts in place of another the frame it handles', () => {
    const client = create()
    const seen: string[] = []
    client.socket.onmessage = () => seen.push('old')
    client.once('said', ({ text }) => {
      client.socket.onmessage = () => seen.push(`new from ${text}`)
    })
    welcome()
    expect(seen).toEqual(['old'])
    // The standard reads the property when the handler's turn comes: the new value, at once.
    deliver({ t: 'said', d: { text: 'first' } })
    expect(seen).toEqual(['old', 'new from first'])
    deliver({ t: 'said', d: { text: 'second' } })
    expect(seen).toEqual(['old', 'new from first', 'new from first'])
    client.close()
  })

  it('skips a message listener that a client handler removes', () => {
    const client = create()
    const seen: unknown[] = []
    const listener = (event: { data: unknown }) => seen.push(event.data)
    client.socket.addEventListener('message', listener)
    client.on('said', () => client.socket.removeEventListener('message', listener))
    welcome()
    deliver({ t: 'said', d: { text: 'hi' } })
    expect(seen).toHaveLength(1)
    client.close()
  })

  it('keeps its frame sink out of the keys and of a spread of the socket', () => {
    const client = create()
    expect(Object.getOwnPropertySymbols({ ...client.socket })).toEqual([])
    expect(Object.prototype.propertyIsEnumerable.call(client.socket, frameSink)).toBe(false)
    client.close()
  })
})
