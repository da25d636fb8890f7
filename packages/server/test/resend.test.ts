import { EventEmitter } from 'node:events'
import { createClient } from '@lifeline/node'
import { createClient as createCoreClient } from '@lifeline/core'
import type { RpcMethod, WebSocketConstructor } from '@lifeline/core'
import { WebSocket, type RawData } from 'ws'
import { expectNoEvent, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { type Frame, ProtocolClient, startServer, urlOf } from './helpers.js'

// A client that pipelines past what may wait is asked to resend what the server discarded:
// in-band (`$resend`) when its `$hello` said `rs: 1`, by a 1012 close otherwise (PROTOCOL.md,
// section 9, "Output per connection").

const fx = useFixtures(afterEach)

const KiB = 1024

interface Api {
  rpc: { big: RpcMethod<{ n: number; pad: string }, string> }
}

interface EchoApi {
  rpc: { echo: RpcMethod<{ n: number; pad: string }, { n: number; pad: string }> }
}

/** A mark small enough that a few 16 KiB requests and answers cross it. */
const highWater = 64 * KiB
const bigPad = 'p'.repeat(16 * KiB)

/** A server whose `big` answers `answerBytes`, and the order in which it handled requests. */
async function bigServer({ answerBytes = 16 * KiB, maxOutboundBytes = 1024 * KiB } = {}) {
  const server = await startServer<Api>(fx, { outboundHighWaterBytes: highWater, maxOutboundBytes })
  const calls = new EventEmitter()
  const handled: number[] = []
  const answer = 'a'.repeat(answerBytes)
  server.handle('big', ({ n }) => {
    handled.push(n)
    calls.emit('call')
    return answer
  })
  return { server, calls, handled, answerBytes }
}

type BigServer = Awaited<ReturnType<typeof bigServer>>

const request = (s: number, pad: string): Frame => ({
  t: '$req',
  s,
  d: { id: s, m: 'big', d: { n: s, pad } },
})

/**
 * Sends requests 1…`count` at once and reads nothing until the server has stopped handling
 * them (its output is over the mark unacknowledged, and what came past what may wait was
 * discarded): the answers handled by then.
 */
async function pipelineWithoutReading(
  { server, calls, handled, answerBytes }: BigServer,
  client: ProtocolClient,
  count: number,
  pad = bigPad,
): Promise<number> {
  for (let s = 1; s <= count; s++) client.send(request(s, pad))
  await waitFor(() => server.stats.readsPaused > 0, { message: 'its requests to wait' })
  await expectNoEvent(calls, 'call', 200)
  // The mark's worth of answers, and the one that crossed it: the rest waits or was discarded.
  expect(handled.length).toBeLessThanOrEqual(Math.ceil(highWater / answerBytes) + 1)
  return handled.length
}

/**
 * From now on the client reads as an honest one does: it acknowledges every answer, and on a
 * `$resend` it sends the marker and every request after the `a` up to `count`, in order.
 */
function readAndResend(client: ProtocolClient, count: number, pad = bigPad): void {
  let asked = 0
  const react = () => {
    client.acknowledge()
    const resends = client.received.filter((frame) => frame.t === '$resend')
    for (; asked < resends.length; asked++) {
      client.send({ t: '$resend' })
      for (let s = (resends[asked]?.a ?? 0) + 1; s <= count; s++) client.send(request(s, pad))
    }
  }
  client.socket.on('message', react)
  react()
}

const answerIds = (client: ProtocolClient) =>
  client.received
    .filter((frame) => frame.t === '$res')
    .map((frame) => (frame.d as { id: number }).id)

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1)

describe('in-band resend ($resend) to a client that said rs', () => {
  it('asks a client that pipelined past what may wait to resend, on the same link: each request handled once, in order', async () => {
    const big = await bigServer()
    const { server, handled } = big
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { rs: 1 })
    // Rounds of about 8 handled and the rest discarded; in all, far more than the
    // 2 x maxOutboundBytes (2 MiB) discarded that end a round as a slow consumer: each round
    // counts on its own.
    const count = 100
    const first = await pipelineWithoutReading(big, client, count)
    expect(client.received.filter((frame) => frame.t === '$resend')).toEqual([])
    readAndResend(client, count)
    await waitFor(() => handled.length === count && answerIds(client).length === count, {
      message: () => `${count} requests handled and answered (${handled.length} handled)`,
      timeoutMs: 10_000,
    })
    expect(handled).toEqual(upTo(count))
    expect(answerIds(client)).toEqual(upTo(count))
    const resends = client.received.filter((frame) => frame.t === '$resend')
    // The first asks for what came after the answers handled and the requests that waited.
    expect(resends[0]?.a).toBeGreaterThan(first)
    expect(resends.length).toBeGreaterThan(2)
    expect(server.stats.resendsAsked).toBe(resends.length)
    expect(client.closed).toBeUndefined()
    expect(server.stats).toMatchObject({ slowConsumers: 0, protocolErrors: 0, sessionsResumed: 0 })
  }, 15_000)

  it('counts the frames discarded in a round after its marker at their size: a client that pipelines small requests goes on', async () => {
    const maxOutboundBytes = 256 * KiB
    const big = await bigServer({ answerBytes: KiB, maxOutboundBytes })
    const { server, handled } = big
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { rs: 1 })
    // Some 80-byte requests: about 260 handled a round (the mark's worth of answers, and what
    // waits). The first round discards some 1,000 (counted with 256 bytes each, as a client that
    // never read: about 300 KiB, under 2 x maxOutboundBytes); in the next, the client resends
    // them with 1,200 more, and about 1,900 are discarded: 600 KiB counted so, but 150 KiB at
    // their size, and the client never held more than that unacknowledged.
    await pipelineWithoutReading(big, client, 1200, '')
    const count = 2400
    readAndResend(client, count, '')
    await waitFor(() => handled.length === count && answerIds(client).length === count, {
      message: () => `${count} requests handled and answered (${handled.length} handled)`,
      timeoutMs: 10_000,
    })
    expect(handled).toEqual(upTo(count))
    expect(answerIds(client)).toEqual(upTo(count))
    expect(client.closed).toBeUndefined()
    expect(server.stats).toMatchObject({ slowConsumers: 0, protocolErrors: 0 })
    expect(server.stats.resendsAsked).toBeGreaterThan(2)
  }, 15_000)

  it('asks a client that did not say rs by a close (1012), as before', async () => {
    const big = await bigServer()
    const { server, handled } = big
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    const count = 40
    await pipelineWithoutReading(big, client, count)
    readAndResend(client, count)
    expect((await client.waitClose()).code).toBe(1012)
    expect(client.received.filter((frame) => frame.t === '$resend')).toEqual([])
    expect(server.stats.resendsAsked).toBe(1)
    // Everything before the first frame discarded was handled, in order.
    expect(handled).toEqual(upTo(handled.length))
    expect(handled.length).toBeLessThan(count)
  })

  it('closes a client that said rs and never acknowledges as a slow consumer (4429), never asking it to resend', async () => {
    const maxOutbound = 256 * KiB
    const server = await startServer<Api>(fx, {
      outboundHighWaterBytes: highWater,
      maxOutboundBytes: maxOutbound,
    })
    server.handle('big', () => 'a'.repeat(16 * KiB))
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { rs: 1 })
    const count = Math.ceil((highWater + 2 * maxOutbound) / bigPad.length) + 8
    for (let s = 1; s <= count; s++) client.send(request(s, bigPad))
    expect((await client.waitClose()).code).toBe(4429)
    expect(server.stats).toMatchObject({ slowConsumers: 1, resendsAsked: 0 })
  })

  it.each([
    {
      case: 'a marker from a client never sent $resend',
      hello: { rs: 1 },
      frame: { t: '$resend' },
    },
    { case: 'a marker from a client that did not say rs', hello: {}, frame: { t: '$resend' } },
    { case: 'a marker with s', hello: { rs: 1 }, frame: { t: '$resend', s: 1 } },
    { case: 'a marker with d', hello: { rs: 1 }, frame: { t: '$resend', d: { a: 1 } } },
  ])('closes with 1002 for $case', async ({ hello, frame }) => {
    const server = await startServer(fx)
    const { client } = await ProtocolClient.connect(fx, urlOf(server), hello)
    client.send(frame)
    expect((await client.waitClose()).code).toBe(1002)
    expect(server.stats.protocolErrors).toBe(1)
  })

  it('closes with 1002 for a marker with s while it is asked for', async () => {
    const big = await bigServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(big.server), { rs: 1 })
    await pipelineWithoutReading(big, client, 40)
    await waitFor(
      () => {
        client.acknowledge()
        return client.received.some((frame) => frame.t === '$resend')
      },
      { message: 'a $resend' },
    )
    client.send({ t: '$resend', s: 1 })
    expect((await client.waitClose()).code).toBe(1002)
  })

  it('refuses a $hello whose rs is not 1 (1002)', async () => {
    const server = await startServer(fx)
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, rs: true } })
    expect((await client.waitClose()).code).toBe(1002)
  })
})

describe('a real client pipelining with the default limits', () => {
  // The regression test of protocol-mode echo: a client that sends faster than it reads had
  // its link closed (1012) and came back after a reconnect delay, several times per run; then
  // had its frames discarded and resent ($resend); within the send window of `$welcome` (`w`),
  // neither.
  it('gets 20,000 echoes once and in order, without ever reconnecting', async () => {
    const server = await startServer<EchoApi>(fx)
    const handled: number[] = []
    server.handle('echo', (data) => {
      handled.push(data.n)
      return data
    })
    const count = 20_000
    const client = createClient<EchoApi>({ url: urlOf(server), maxUnacked: count })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open', { message: 'the client open' })
    const changes: string[] = []
    client.events.on('statechange', (state) => changes.push(state.status))
    let reconnects = 0
    client.socket.addEventListener('reconnecting', () => reconnects++)
    // About 150 bytes each way: the answers pass the 1 MiB mark long before the client's
    // acknowledgements, in TCP behind its 20,000 requests (some 3 MB), reach the server.
    const text = 'p'.repeat(100)
    const answered: number[] = []
    const all = Promise.all(
      Array.from({ length: count }, (_, n) =>
        client.request('echo', { n, pad: text }).then(({ n }) => answered.push(n)),
      ),
    )
    // Generous for a loaded 2-core machine: it takes a second or two.
    await withTimeout(all, 20_000, 'every echo')
    const inOrder = Array.from({ length: count }, (_, n) => n)
    expect(handled).toEqual(inOrder)
    expect(answered).toEqual(inOrder)
    expect(reconnects).toBe(0)
    expect(changes).toEqual([])
    // Within the window the server gave it, the client never has the server's output cross the
    // mark: nothing waits long, nothing is discarded, nothing is asked again.
    expect(server.stats).toMatchObject({ resendsAsked: 0, slowConsumers: 0, sessionsResumed: 0 })
  }, 30_000)

  it('keeps a full default outbox of 2 KiB requests going without a close: frames discarded after a $resend, before its marker, start a new round', async () => {
    const server = await startServer<EchoApi>(fx)
    let handled = 0
    server.handle('echo', (data) => {
      handled++
      return data
    })
    // The default client (an outbox of 8 MiB), kept full: every answer sends a new request.
    // Counted from before a $resend, with the overhead of a waiting frame, what the server
    // discarded until the marker (the rest of the client's resend, and its new requests)
    // passed 2 * maxOutboundBytes: a slow consumer (4429), again on every resume. Without the
    // send window of `$welcome`, as a client from before it: within it, nothing is discarded.
    const client = createCoreClient<EchoApi>({
      url: urlOf(server),
      socket: { WebSocket: WithoutWindow as unknown as WebSocketConstructor },
    })
    fx.add(() => client.close())
    await waitFor(() => client.state.status === 'open', { message: 'the client open' })
    let reconnects = 0
    client.socket.addEventListener('reconnecting', () => reconnects++)
    const text = 'q'.repeat(2048)
    const inFlight = 3_900
    const count = 4 * inFlight
    let sent = 0
    let answered = 0
    let done: () => void = () => undefined
    const all = new Promise<void>((resolve) => (done = resolve))
    const next = (): void => {
      if (sent === count) return
      sent++
      // Rejected only by the close at the end of a failed run.
      client.request('echo', { n: sent, pad: text }).then(
        () => {
          if (++answered === count) done()
          next()
        },
        () => undefined,
      )
    }
    for (let i = 0; i < inFlight; i++) next()
    await withTimeout(all, 25_000, 'every echo')
    expect(handled).toBe(count)
    expect(reconnects).toBe(0)
    expect(server.stats).toMatchObject({ slowConsumers: 0, sessionsResumed: 0 })
    expect(server.stats.resendsAsked).toBeGreaterThan(0)
  }, 35_000)
})

/** `ws`, but every `$welcome` loses its send window (`w`): a client from before it. */
function WithoutWindow(url: string, protocols?: string | string[]): WebSocket {
  const socket = new WebSocket(url, protocols)
  const on = socket.on.bind(socket) as (event: string, listener: Listener) => WebSocket
  socket.on = ((event: string, listener: Listener) =>
    on(
      event,
      event === 'message'
        ? function (this: WebSocket, data: RawData, isBinary: boolean) {
            listener.call(this, withoutWindow(data, isBinary), isBinary)
          }
        : listener,
    )) as typeof socket.on
  return socket
}

/** A `message` listener, as core's socket adds them (other events' pass through as they are). */
type Listener = (this: WebSocket, data: RawData, isBinary: boolean) => void

function withoutWindow(data: RawData, isBinary: boolean): RawData {
  const text = isBinary ? '' : data.toString()
  if (!text.includes('"$welcome"')) return data
  const welcome = JSON.parse(text) as { d: { w?: number } }
  delete welcome.d.w
  return Buffer.from(JSON.stringify(welcome))
}
