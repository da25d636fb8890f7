import { queryObjects, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from '../protocol/envelope.js'
import { codec, createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'

// The server gives the client a send window in `$welcome` (`w`): the bytes of reliable frames it
// may have written and not yet had acknowledged. The rest waits in the outbox and goes out, in
// order, as acknowledgements come in (PROTOCOL.md, section 9).

let clock: ManualClock

/** 200 bytes a frame: `{"t":"m","d":"ppp…","s":n,"a":0}` with n of one digit, 201 with two. */
const pad = 'p'.repeat(200 - '{"t":"m","d":"","s":1,"a":0}'.length)
const window = 1_024

function welcome(d: Record<string, unknown> = { w: window }, resumed = false) {
  const socket = FakeWebSocket.last
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed, a: 0, ...d } }, socket)
}

const reliable = (socket = FakeWebSocket.last) => received(socket).filter((e) => e.s !== undefined)
const seqs = (envelopes: Envelope[]) => envelopes.map((e) => e.s)
const bytes = (envelope: Envelope) => codec.encode(envelope).length
const upTo = (count: number, from = 1) =>
  Array.from({ length: count - from + 1 }, (_, i) => from + i)

/** Bytes of the reliable frames written on the link with an `s` above `a`. */
const inFlight = (a: number, socket = FakeWebSocket.last) =>
  reliable(socket)
    .filter((e) => (e.s as number) > a)
    .reduce((sum, e) => sum + bytes(e), 0)

function openClient(d?: Record<string, unknown>): Client {
  const client = createFakeClient(clock, { maxUnacked: 1_000 })
  welcome(d)
  return client
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('the send window', () => {
  it('writes no more than the window beyond the server’s a, and the rest in order, once, as acks come in', () => {
    const client = openClient()
    for (let n = 1; n <= 20; n++) client.send('m', pad)
    // Five frames of 200 bytes fit in 1,024; the sixth would not.
    expect(seqs(reliable())).toEqual(upTo(5))
    expect(inFlight(0)).toBeLessThanOrEqual(window)
    expect(client.unacked).toBe(20)
    // An acknowledgement on `$ack` lets as many more go as it took.
    deliver({ t: '$ack', a: 2 })
    expect(seqs(reliable())).toEqual(upTo(7))
    expect(inFlight(2)).toBeLessThanOrEqual(window)
    // And one riding on a server message (an echo's answer) as well.
    deliver({ t: 'm', d: 'answer', s: 1, a: 6 })
    expect(seqs(reliable())).toEqual(upTo(11))
    expect(inFlight(6)).toBeLessThanOrEqual(window)
    // A held frame goes as it was encoded, with the `a` of its time; what the client processed
    // meanwhile is acknowledged on the usual cadence.
    expect(reliable().at(-1)).toMatchObject({ s: 11, a: 0 })
    clock.advance(1_000)
    expect(
      received()
        .filter((e) => e.t === '$ack')
        .at(-1),
    ).toMatchObject({ a: 1 })
    for (let a = 8; a <= 20; a += 3) {
      deliver({ t: '$ack', a })
      expect(inFlight(a)).toBeLessThanOrEqual(window)
    }
    deliver({ t: '$ack', a: 20 })
    // Every message once, in order, on the one link.
    expect(seqs(reliable())).toEqual(upTo(20))
    expect(reliable().map((e) => e.d)).toEqual(upTo(20).map(() => pad))
    expect(client.unacked).toBe(0)
    expect(FakeWebSocket.instances).toHaveLength(1)
    client.close()
  })

  it('writes a held frame as it was encoded, its a older: a frame at the server’s max is not taken past it, and the message that moved a is delivered', () => {
    const client = openClient({ w: window, max: 1_024 })
    const seen: unknown[] = []
    client.on('m', (data) => seen.push(data))
    for (let s = 1; s <= 9; s++) deliver({ t: 'm', d: s, s })
    for (let n = 1; n <= 5; n++) client.send('m', pad)
    // Exactly the server's max with `"a":9`; one byte more with `"a":10`.
    const big = 'b'.repeat(1_024 - '{"t":"m","d":"","s":6,"a":9}'.length)
    client.send('m', big)
    expect(seqs(reliable())).toEqual(upTo(5))
    // The answer that moves `a` to 10 lets the held frame go.
    deliver({ t: 'm', d: 10, s: 10, a: 5 })
    expect(seen).toEqual(upTo(10))
    expect(FakeWebSocket.last.readyState).toBe(FakeWebSocket.OPEN)
    const written = reliable().at(-1) as Envelope
    expect(written).toMatchObject({ s: 6, a: 9, d: big })
    // The newer acknowledgement follows on the usual cadence.
    clock.advance(1_000)
    expect(
      received()
        .filter((e) => e.t === '$ack')
        .at(-1),
    ).toMatchObject({ a: 10 })
    client.close()
  })

  it('writes a held frame that a request taken back renumbered with the a it was encoded with: a frame at the server’s max stays within it', async () => {
    const client = openClient({ w: window, max: 1_024 })
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    for (let s = 1; s <= 9; s++) deliver({ t: 'm', d: s, s })
    for (let n = 1; n <= 5; n++) client.send('m', pad)
    const controller = new AbortController()
    const given = client.request('add', 1, { signal: controller.signal })
    // Exactly the server's max with `"a":9`, numbered 7 or 6; one byte more with `"a":10`.
    const big = 'b'.repeat(1_024 - '{"t":"m","d":"","s":7,"a":9}'.length)
    const receipt = client.send('m', big)
    controller.abort()
    await expect(given).rejects.toMatchObject({ code: 'ABORTED' })
    // The answer that moves `a` to 10 lets the held frame go, numbered 6 now.
    deliver({ t: 'm', d: 10, s: 10, a: 5 })
    expect(errors).toEqual([])
    expect(FakeWebSocket.last.readyState).toBe(FakeWebSocket.OPEN)
    expect(seqs(reliable())).toEqual(upTo(6))
    expect(reliable().at(-1)).toMatchObject({ s: 6, a: 9, d: big })
    deliver({ t: '$ack', a: 6 })
    await expect(client.delivered(receipt)).resolves.toBeUndefined()
    client.close()
  })

  it('writes a held frame that a refusal at $welcome renumbered with the a it was checked with: a frame at the server’s max stays within it', () => {
    const client = openClient({ w: window, max: 4_096 })
    for (let s = 1; s <= 9; s++) deliver({ t: 'm', d: s, s })
    FakeWebSocket.last.fail()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    // Offline: one the next server refuses, then what goes in its place.
    client.send('m', 'x'.repeat(2_000))
    for (let n = 1; n <= 5; n++) client.send('m', pad)
    // Exactly the next server's max with `"a":9`, numbered 7 or 6; one byte more with `"a":10`.
    const big = 'b'.repeat(1_024 - '{"t":"m","d":"","s":7,"a":9}'.length)
    const receipt = client.send('m', big)
    clock.advance(250)
    welcome({ w: window, max: 1_024 }, true)
    expect(errors).toEqual(['MESSAGE_TOO_LARGE'])
    expect(seqs(reliable())).toEqual(upTo(5))
    // The answer that moves `a` to 10 lets the held frame go, numbered 6 now.
    deliver({ t: 'm', d: 10, s: 10, a: 5 })
    expect(errors).toEqual(['MESSAGE_TOO_LARGE'])
    expect(FakeWebSocket.last.readyState).toBe(FakeWebSocket.OPEN)
    expect(reliable().at(-1)).toMatchObject({ s: 6, a: 9, d: big })
    deliver({ t: '$ack', a: 6 })
    return expect(client.delivered(receipt)).resolves.toBeUndefined()
  })

  it('refuses an a above what was sent before counting the s it came with', () => {
    const client = openClient()
    const seen: unknown[] = []
    client.on('m', (data) => seen.push(data))
    deliver({ t: 'm', d: 1, s: 1, a: 3 })
    expect(seen).toEqual([])
    const first = FakeWebSocket.last
    expect(first.readyState).not.toBe(FakeWebSocket.OPEN)
    // The next link asks again from 0: the message comes again and is delivered then.
    for (let i = 0; i < 600 && FakeWebSocket.last === first; i++) clock.advance(100)
    expect(FakeWebSocket.last).not.toBe(first)
    FakeWebSocket.last.accept('lifeline.v1.json')
    const hello = received(FakeWebSocket.last).find((e) => e.t === '$hello')
    expect((hello?.d as { a?: number }).a ?? 0).toBe(0)
    client.close()
  })

  it('refuses an a that covers frames the window holds, never written: they are not forgotten', () => {
    const client = openClient()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    for (let n = 1; n <= 8; n++) client.send('m', pad)
    expect(seqs(reliable())).toEqual(upTo(5))
    deliver({ t: '$ack', a: 8 })
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(client.unacked).toBe(8)
    // And from a `$resend`, which would have them forgotten as well.
    for (let i = 0; i < 600 && client.state.status !== 'connecting'; i++) clock.advance(100)
    welcome({ w: window }, true)
    expect(seqs(reliable())).toEqual(upTo(5))
    deliver({ t: '$resend', a: 7 })
    expect(errors).toEqual(['PROTOCOL_ERROR', 'PROTOCOL_ERROR'])
    expect(client.unacked).toBe(8)
    client.close()
  })

  it('takes back a request the window held when its caller gives up, and numbers what follows it without a gap', async () => {
    const client = openClient()
    for (let n = 1; n <= 6; n++) client.send('m', pad)
    const controller = new AbortController()
    const given = client.request('add', pad, { signal: controller.signal })
    for (let n = 1; n <= 3; n++) client.send('m', pad)
    expect(seqs(reliable())).toEqual(upTo(5))
    controller.abort()
    await expect(given).rejects.toMatchObject({ code: 'ABORTED' })
    expect(client.unacked).toBe(9)
    deliver({ t: '$ack', a: 5 })
    deliver({ t: '$ack', a: 9 })
    expect(seqs(reliable())).toEqual(upTo(9))
    expect(reliable().some((e) => e.t === '$req')).toBe(false)
    expect(client.unacked).toBe(0)
    expect(FakeWebSocket.instances).toHaveLength(1)
    client.close()
  })

  it('keeps nothing of the requests the window held once taken back, while the link stays up', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    /** What each request carries: counted on the heap. */
    class Payload {
      readonly text = pad
    }
    const client = openClient()
    for (let n = 1; n <= 6; n++) client.send('m', pad)
    const controller = new AbortController()
    const given = Array.from({ length: 10 }, () =>
      client.request('add', new Payload(), { signal: controller.signal }).catch(() => undefined),
    )
    controller.abort()
    await Promise.all(given)
    expect(client.unacked).toBe(6)
    gc()
    expect(queryObjects(Payload, { format: 'count' })).toBe(0)
    client.close()
  })

  it('writes one frame larger than the window when nothing is in flight', () => {
    const client = openClient()
    const big = 'b'.repeat(3 * window)
    client.send('m', big)
    client.send('m', big)
    expect(seqs(reliable())).toEqual([1])
    deliver({ t: '$ack', a: 1 })
    expect(seqs(reliable())).toEqual([1, 2])
    client.close()
  })

  it('holds requests and answers to the server in the window too, in order with messages; unreliable messages, $pong and $ack go at once', async () => {
    const client = openClient()
    client.handle('ask', () => 'yes')
    for (let n = 1; n <= 5; n++) client.send('m', pad)
    const answer = client.request('echo', 'r')
    client.send('m', 'after')
    expect(seqs(reliable())).toEqual(upTo(5))
    const from = FakeWebSocket.last.sent.length
    client.send('m', 'now', { reliable: false })
    deliver({ t: '$ping', d: { ts: 1 } })
    deliver({ t: '$req', d: { id: 9, m: 'ask', d: null }, s: 1 })
    await Promise.resolve()
    await Promise.resolve()
    clock.advance(20)
    expect(received().slice(from)).toEqual([
      { t: 'm', d: 'now' },
      { t: '$pong', d: { ts: 1 } },
      { t: '$ack', a: 1 },
    ])
    deliver({ t: '$ack', a: 5 })
    expect(received().slice(from + 3)).toEqual([
      // Held since before the server's request: as they were encoded then.
      { t: '$req', d: { id: 1, m: 'echo', d: 'r' }, s: 6, a: 0 },
      { t: 'm', d: 'after', s: 7, a: 0 },
      { t: '$res', d: { id: 9, d: 'yes' }, s: 8, a: 1 },
    ])
    deliver({ t: '$res', d: { id: 1, d: 'R' }, s: 2, a: 8 })
    await expect(answer).resolves.toBe('R')
    client.close()
  })

  it('writes everything at once without a window, as before', () => {
    const client = openClient({})
    for (let n = 1; n <= 20; n++) client.send('m', pad)
    expect(seqs(reliable())).toEqual(upTo(20))
    client.close()
  })

  it('resends within the window after a resume, and after a $resend', () => {
    const client = openClient()
    for (let n = 1; n <= 20; n++) client.send('m', pad)
    deliver({ t: '$ack', a: 3 })
    expect(seqs(reliable())).toEqual(upTo(8))
    FakeWebSocket.last.fail()
    clock.advance(250)
    // The server processed up to 6 and the window is now 2 KiB: ten 200-byte frames.
    welcome({ a: 6, w: 2 * window }, true)
    expect(seqs(reliable())).toEqual(upTo(16, 7))
    expect(inFlight(6)).toBeLessThanOrEqual(2 * window)
    deliver({ t: '$ack', a: 9 })
    expect(seqs(reliable())).toEqual(upTo(19, 7))
    // The server discarded after 10: the marker, then the window's worth from 11.
    const from = FakeWebSocket.last.sent.length
    deliver({ t: '$resend', a: 10 })
    const answer = received().slice(from)
    expect(answer[0]).toEqual({ t: '$resend' })
    expect(seqs(answer.slice(1))).toEqual(upTo(20, 11))
    deliver({ t: '$ack', a: 20 })
    expect(client.unacked).toBe(0)
    client.close()
  })

  it('no longer holds anything back after a $welcome without a window', () => {
    const client = openClient()
    for (let n = 1; n <= 20; n++) client.send('m', pad)
    expect(seqs(reliable())).toEqual(upTo(5))
    FakeWebSocket.last.fail()
    clock.advance(250)
    welcome({}, true)
    expect(seqs(reliable())).toEqual(upTo(20))
    client.close()
  })

  it.each([
    { case: 'under 1 KiB', w: 1_000 },
    { case: 'not an integer', w: 4_096.5 },
    { case: 'a string', w: '4096' },
    { case: 'null', w: null },
  ])('treats a w that is $case as a violation (4002)', ({ w }) => {
    const client = openClient({ w })
    expect(client.state).toMatchObject({ status: 'reconnecting', closeCode: 4002 })
    client.close()
  })
})

describe('acknowledgements by bytes', () => {
  /** A server message whose frame is about `size` bytes. */
  const big = (s: number, size: number): Envelope => ({ t: 'm', d: 'q'.repeat(size), s, a: 0 })
  const acks = () => received().filter((e) => e.t === '$ack')

  it('acknowledges once a quarter of the window has come since the last, without the timer', () => {
    const client = openClient({ w: 4_096 })
    const got: unknown[] = []
    client.on('m', (data) => got.push(data))
    deliver(big(1, 600))
    expect(acks()).toEqual([])
    // 1,200 bytes and more since the last acknowledgement: over 4,096 / 4, at once.
    deliver(big(2, 600))
    expect(acks()).toEqual([{ t: '$ack', a: 2 }])
    // And a frame of a quarter of the window or more, alone.
    deliver(big(3, 1_100))
    expect(acks()).toEqual([
      { t: '$ack', a: 2 },
      { t: '$ack', a: 3 },
    ])
    expect(got).toHaveLength(3)
    expect(clock.now()).toBe(1_000)
    client.close()
  })

  it('keeps the count and the timer alone from a server without a window', () => {
    const client = openClient({})
    deliver(big(1, 100_000))
    expect(acks()).toEqual([])
    clock.advance(20)
    expect(acks()).toEqual([{ t: '$ack', a: 1 }])
    client.close()
  })
})
