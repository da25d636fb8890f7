import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { thrownBy } from '@lifeline/test-utils'
import { LifelineError } from '@lifeline/codec'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from './envelope.js'
import type { ReliableStreamOptions } from './reliableStream.js'
import { ReliableStream, reliableStreamDefaults } from './reliableStream.js'

function expectErrorCode(action: () => unknown, code: string, closeCode?: number): void {
  const error = thrownBy(action)
  expect(error).toBeInstanceOf(LifelineError)
  expect(error).toMatchObject(closeCode === undefined ? { code } : { code, closeCode })
}

/** A stream whose link is a switch and whose transmissions are recorded (as copies). */
function streamWith(options: Partial<Omit<ReliableStreamOptions, 'transmit' | 'isLinkUp'>> = {}) {
  const clock = new ManualClock()
  const sent: Envelope[] = []
  const link = { up: true }
  const stream = new ReliableStream({
    clock,
    transmit: (envelope) => {
      // The stream promises to transmit only while the link is up.
      expect(link.up).toBe(true)
      sent.push({ ...envelope })
    },
    isLinkUp: () => link.up,
    ...options,
  })
  return { clock, sent, link, stream }
}

describe('ReliableStream, sending', () => {
  it('numbers from 1 and transmits each envelope with the current ack', () => {
    const { sent, stream } = streamWith()
    expect(stream.lastSent).toBe(0)
    expect(stream.send('say', 'one')).toEqual({ t: 'say', d: 'one', s: 1, a: 0 })
    stream.receive(1)
    stream.send('say', 'two')
    expect(sent).toEqual([
      { t: 'say', d: 'one', s: 1, a: 0 },
      { t: 'say', d: 'two', s: 2, a: 1 },
    ])
    expect(stream.lastSent).toBe(2)
    expect(stream.unackedCount).toBe(2)
  })

  it('transmits nothing while the link is down and keeps everything', () => {
    const { sent, link, stream } = streamWith()
    link.up = false
    for (const text of ['a', 'b', 'c']) stream.send('say', text)
    expect(sent).toEqual([])
    expect(stream.lastSent).toBe(3)
    expect(stream.unackedCount).toBe(3)
  })

  it('resume(peerAck) drops what the peer processed and resends the rest in order', () => {
    const { clock, sent, link, stream } = streamWith()
    link.up = false
    for (const text of ['a', 'b', 'c', 'd']) stream.send('say', text)
    stream.receive(1)
    stream.receive(2)
    link.up = true
    stream.resume(2)
    expect(sent).toEqual([
      { t: 'say', d: 'c', s: 3, a: 2 },
      { t: 'say', d: 'd', s: 4, a: 2 },
    ])
    expect(stream.unackedCount).toBe(2)
    // The resent envelopes carried the ack: no `$ack` is owed.
    expect(clock.pending).toBe(0)
    clock.advance(1_000)
    expect(sent).toHaveLength(2)
  })

  it('resends everything unacknowledged after each reconnect', () => {
    const { sent, stream } = streamWith()
    stream.send('say', 'a')
    stream.send('say', 'b')
    stream.resume(0)
    stream.resume(1)
    expect(sent.map((envelope) => envelope.s)).toEqual([1, 2, 1, 2, 2])
  })

  it('resume while the link is down only drops what was acknowledged', () => {
    const { sent, link, stream } = streamWith()
    link.up = false
    stream.send('say', 'a')
    stream.send('say', 'b')
    stream.resume(1)
    expect(sent).toEqual([])
    expect(stream.unackedCount).toBe(1)
  })

  it('resend(after, more) transmits in order from a number while more allows, and says where it stopped', () => {
    const { sent, link, stream } = streamWith({ check: (envelope) => String(envelope.d).length })
    link.up = false
    for (const word of ['a', 'bb', 'ccc', 'dddd']) stream.send('say', word)
    stream.acknowledge(1)
    link.up = true
    const sizes: number[] = []
    let budget = 5
    const more = (bytes: number) => {
      sizes.push(bytes)
      return (budget -= bytes) >= 0
    }
    expect(stream.resend(stream.acknowledged, more)).toBe(3)
    expect(sizes).toEqual([2, 3, 4])
    // Acknowledged meanwhile: it goes on from the number, not from a position.
    stream.acknowledge(2)
    expect(stream.resend(3)).toBe(4)
    expect(stream.resend(4)).toBe(4)
    expect(sent.map((envelope) => envelope.s)).toEqual([2, 3, 4])
  })

  it('acknowledge forgets up to the ack; an old ack changes nothing', () => {
    const { stream } = streamWith()
    for (let i = 0; i < 5; i++) stream.send('say', i)
    stream.acknowledge(3)
    expect(stream.unackedCount).toBe(2)
    stream.acknowledge(1)
    expect(stream.unackedCount).toBe(2)
    stream.acknowledge(5)
    expect(stream.unackedCount).toBe(0)
    stream.acknowledge(0)
    expect(stream.unackedCount).toBe(0)
  })

  it('acknowledging beyond lastSent is a protocol error and drops nothing', () => {
    const { sent, stream } = streamWith()
    stream.send('say', 'a')
    stream.send('say', 'b')
    expectErrorCode(() => stream.acknowledge(3), 'PROTOCOL_ERROR', 1002)
    expect(stream.unackedCount).toBe(2)
    expectErrorCode(() => stream.resume(3), 'PROTOCOL_ERROR', 1002)
    expect(sent).toHaveLength(2)
    expectErrorCode(() => streamWith().stream.acknowledge(1), 'PROTOCOL_ERROR', 1002)
  })
})

describe('ReliableStream, receiving', () => {
  it('processes the next s, calls s <= last a duplicate and throws on a gap', () => {
    const { stream } = streamWith()
    expect(stream.receive(1)).toBe('process')
    expect(stream.receive(2)).toBe('process')
    expect(stream.receive(1)).toBe('duplicate')
    expect(stream.receive(2)).toBe('duplicate')
    expectErrorCode(() => stream.receive(4), 'PROTOCOL_ERROR', 1002)
    expect(stream.lastProcessed).toBe(2)
    expect(stream.receive(3)).toBe('process')
    expect(stream.lastProcessed).toBe(3)
  })

  it('throws on a gap from the very start', () => {
    const { stream } = streamWith()
    expectErrorCode(() => stream.receive(2), 'PROTOCOL_ERROR', 1002)
    expect(stream.lastProcessed).toBe(0)
  })
})

describe('ReliableStream, acknowledgements', () => {
  it('sends one $ack ackDelayMs after the first unacknowledged envelope', () => {
    const { clock, sent, stream } = streamWith({ ackDelayMs: 20, ackEvery: 10 })
    stream.receive(1)
    expect(clock.pending).toBe(1)
    clock.advance(10)
    stream.receive(2)
    expect(clock.pending).toBe(1)
    clock.advance(9)
    expect(sent).toEqual([])
    clock.advance(1)
    expect(sent).toEqual([{ t: '$ack', a: 2 }])
    expect(clock.pending).toBe(0)
    clock.advance(1_000)
    expect(sent).toHaveLength(1)
  })

  it('sends a $ack at once after ackEvery envelopes', () => {
    const { clock, sent, stream } = streamWith({ ackDelayMs: 20, ackEvery: 3 })
    stream.receive(1)
    stream.receive(2)
    expect(sent).toEqual([])
    stream.receive(3)
    expect(sent).toEqual([{ t: '$ack', a: 3 }])
    expect(clock.pending).toBe(0)
    stream.receive(4)
    clock.advance(20)
    expect(sent).toEqual([
      { t: '$ack', a: 3 },
      { t: '$ack', a: 4 },
    ])
  })

  it('sends a $ack at once once the frames received since the last reach ackBytes', () => {
    const { clock, sent, stream } = streamWith({ ackDelayMs: 20, ackEvery: 64 })
    stream.ackBytes = 1_000
    stream.receive(1, 400)
    stream.receive(2, 500)
    expect(sent).toEqual([])
    // Bytes, not envelopes nor the timer: a few large frames would fill the sender's window.
    stream.receive(3, 100)
    expect(sent).toEqual([{ t: '$ack', a: 3 }])
    // The count starts again from each acknowledgement, one riding on an envelope sent included.
    stream.receive(4, 900)
    stream.send('m', 'x')
    expect(sent.at(-1)).toMatchObject({ t: 'm', a: 4 })
    stream.receive(5, 900)
    expect(sent).toHaveLength(2)
    // A frame of ackBytes or more is acknowledged alone, and so is a duplicate's.
    stream.receive(6, 5_000)
    stream.receive(6, 5_000)
    expect(sent.slice(2)).toEqual([
      { t: '$ack', a: 6 },
      { t: '$ack', a: 6 },
    ])
    expect(clock.pending).toBe(0)
  })

  it('uses the documented defaults: 64 envelopes or 20 ms', () => {
    expect(reliableStreamDefaults).toEqual({
      ackEvery: 64,
      ackDelayMs: 20,
      maxUnacked: 10_000,
      maxUnackedBytes: 8 * 1024 * 1024,
      overflow: 'error',
    })
    const { clock, sent, stream } = streamWith()
    for (let s = 1; s <= 63; s++) stream.receive(s)
    expect(sent).toEqual([])
    stream.receive(64)
    expect(sent).toEqual([{ t: '$ack', a: 64 }])
    stream.receive(65)
    clock.advance(19)
    expect(sent).toHaveLength(1)
    clock.advance(1)
    expect(sent).toEqual([
      { t: '$ack', a: 64 },
      { t: '$ack', a: 65 },
    ])
  })

  it('owes no $ack and starts no timer while the link is down', () => {
    const { clock, sent, link, stream } = streamWith({ ackEvery: 2 })
    link.up = false
    stream.receive(1)
    expect(clock.pending).toBe(0)
    stream.receive(2)
    stream.receive(3)
    stream.flushAck()
    clock.advance(1_000)
    expect(sent).toEqual([])
    expect(clock.pending).toBe(0)
  })

  it('piggybacks the ack on a send: no $ack follows, and no timer is left', () => {
    const { clock, sent, stream } = streamWith()
    stream.receive(1)
    stream.receive(2)
    stream.send('say', 'hi')
    expect(sent).toEqual([{ t: 'say', d: 'hi', s: 1, a: 2 }])
    // The batch's timer is not cleared on each send (that would cost a clearTimeout per
    // message): it fires, finds nothing owed, and stops.
    clock.advance(1_000)
    expect(sent).toHaveLength(1)
    expect(clock.pending).toBe(0)
  })

  it('acknowledges what arrives after a piggybacked ack within ackDelayMs', () => {
    const { clock, sent, stream } = streamWith({ ackDelayMs: 20 })
    stream.receive(1)
    clock.advance(5)
    stream.send('say', 'hi')
    clock.advance(5)
    stream.receive(2)
    clock.advance(9)
    expect(sent.map((envelope) => envelope.t)).toEqual(['say'])
    // The timer armed for envelope 1 acknowledges envelope 2, 10 ms after it arrived.
    clock.advance(1)
    expect(sent.at(-1)).toEqual({ t: '$ack', a: 2 })
    stream.receive(3)
    clock.advance(19)
    expect(sent).toHaveLength(2)
    clock.advance(1)
    expect(sent.at(-1)).toEqual({ t: '$ack', a: 3 })
    expect(clock.pending).toBe(0)
  })

  it('acknowledges again after a duplicate, since the peer missed the ack', () => {
    const { clock, sent, stream } = streamWith()
    stream.receive(1)
    clock.advance(20)
    expect(sent).toEqual([{ t: '$ack', a: 1 }])
    expect(stream.receive(1)).toBe('duplicate')
    clock.advance(20)
    expect(sent).toEqual([
      { t: '$ack', a: 1 },
      { t: '$ack', a: 1 },
    ])
  })

  it('flushAck sends only when an ack is owed', () => {
    const { clock, sent, stream } = streamWith()
    stream.flushAck()
    expect(sent).toEqual([])
    stream.receive(1)
    stream.flushAck()
    expect(sent).toEqual([{ t: '$ack', a: 1 }])
    expect(clock.pending).toBe(0)
    stream.flushAck()
    expect(sent).toHaveLength(1)
  })

  it('linkDown cancels the timer and the owed ack (the handshake carries it)', () => {
    const { clock, sent, link, stream } = streamWith()
    stream.receive(1)
    expect(clock.pending).toBe(1)
    link.up = false
    stream.linkDown()
    expect(clock.pending).toBe(0)
    link.up = true
    stream.flushAck()
    clock.advance(1_000)
    expect(sent).toEqual([])
  })
})

describe('ReliableStream, a new session', () => {
  it('restart() renumbers the unacknowledged from 1 and starts inbound again at 0', () => {
    const { clock, sent, stream } = streamWith()
    stream.send('say', 'a')
    stream.send('say', 'b')
    stream.send('say', 'c')
    stream.acknowledge(1)
    stream.receive(1)
    stream.receive(2)
    expect(clock.pending).toBe(1)
    sent.length = 0

    stream.restart()
    expect(stream.lastProcessed).toBe(0)
    expect(stream.lastSent).toBe(2)
    expect(stream.unackedCount).toBe(2)
    // The ack owed to the old session is void.
    expect(clock.pending).toBe(0)
    stream.resume(0)
    expect(sent).toEqual([
      { t: 'say', d: 'b', s: 1, a: 0 },
      { t: 'say', d: 'c', s: 2, a: 0 },
    ])
    expect(stream.send('say', 'd')).toMatchObject({ s: 3 })
    expect(stream.receive(1)).toBe('process')
  })

  it('restart() with nothing unacknowledged starts numbering again at 1', () => {
    const { stream } = streamWith()
    stream.send('say', 'a')
    stream.acknowledge(1)
    stream.restart()
    expect(stream.lastSent).toBe(0)
    expect(stream.send('say', 'b')).toMatchObject({ s: 1 })
  })
})

describe('ReliableStream, a full buffer', () => {
  it("'error' throws QUEUE_FULL without using up a sequence number", () => {
    const { sent, stream } = streamWith({ maxUnacked: 2 })
    stream.send('say', 'a')
    stream.send('say', 'b')
    expectErrorCode(() => stream.send('say', 'c'), 'QUEUE_FULL')
    expect(stream.lastSent).toBe(2)
    expect(stream.unackedCount).toBe(2)
    expect(sent).toHaveLength(2)
    expect(stream.lossy).toBe(false)
    stream.acknowledge(1)
    expect(stream.send('say', 'c')).toMatchObject({ s: 3 })
  })

  it("'drop-oldest' drops the oldest, marks the stream lossy, and restart() clears the mark", () => {
    const { sent, link, stream } = streamWith({ maxUnacked: 2, overflow: 'drop-oldest' })
    link.up = false
    stream.send('say', 'a')
    stream.send('say', 'b')
    expect(stream.lossy).toBe(false)
    stream.send('say', 'c')
    expect(stream.lossy).toBe(true)
    expect(stream.unackedCount).toBe(2)
    expect(stream.lastSent).toBe(3)
    link.up = true
    stream.resume(0)
    expect(sent.map((envelope) => [envelope.s, envelope.d])).toEqual([
      [2, 'b'],
      [3, 'c'],
    ])
    stream.restart()
    expect(stream.lossy).toBe(false)
  })
})

describe('ReliableStream, a buffer bounded in bytes', () => {
  /** `check` measures each envelope as the length of its string payload. */
  const measured = (envelope: Envelope) => (envelope.d as string).length

  it("'error' throws QUEUE_FULL past maxUnackedBytes, before transmitting, without a number", () => {
    const { sent, stream } = streamWith({ maxUnackedBytes: 10, check: measured })
    stream.send('say', 'aaaa')
    stream.send('say', 'bbbb')
    expect(stream.unackedBytes).toBe(8)
    expectErrorCode(() => stream.send('say', 'ccc'), 'QUEUE_FULL')
    expect(sent).toHaveLength(2)
    expect(stream.lastSent).toBe(2)
    expect(stream.unackedBytes).toBe(8)
    stream.acknowledge(1)
    expect(stream.unackedBytes).toBe(4)
    expect(stream.send('say', 'ccc')).toMatchObject({ s: 3 })
    expect(stream.unackedBytes).toBe(7)
    // A message that could never fit is refused even into an empty buffer.
    stream.acknowledge(3)
    expectErrorCode(() => stream.send('say', 'x'.repeat(11)), 'QUEUE_FULL')
    expect(stream.unackedBytes).toBe(0)
  })

  it('bytesThrough counts the kept envelopes numbered up to s', () => {
    const { stream } = streamWith({ check: measured })
    for (const d of ['a', 'bb', 'ccc', 'dddd']) stream.send('say', d)
    expect([0, 1, 2, 3, 4, 9].map((s) => stream.bytesThrough(s))).toEqual([0, 1, 3, 6, 10, 10])
    stream.acknowledge(2)
    expect([2, 3, 4].map((s) => stream.bytesThrough(s))).toEqual([0, 3, 7])
  })

  it("'drop-oldest' drops the oldest until the new one fits, and marks the stream lossy", () => {
    const { sent, link, stream } = streamWith({
      maxUnackedBytes: 10,
      overflow: 'drop-oldest',
      check: measured,
    })
    link.up = false
    stream.send('say', 'aaa')
    stream.send('say', 'bbb')
    stream.send('say', 'ccc')
    expect(stream.lossy).toBe(false)
    stream.send('say', 'dddddd')
    expect(stream.lossy).toBe(true)
    expect(stream.unackedBytes).toBe(9)
    link.up = true
    stream.resume(0)
    expect(sent.map((envelope) => envelope.d)).toEqual(['ccc', 'dddddd'])
    // One envelope over the bound is kept alone: it was sent, and must survive a reconnect.
    stream.send('say', 'x'.repeat(12))
    expect(stream.unackedCount).toBe(1)
    expect(stream.unackedBytes).toBe(12)
  })

  it('counts what check measured, once per message, and forgets it on acknowledgement', () => {
    let checks = 0
    const { stream } = streamWith({
      check: (envelope) => {
        checks++
        return measured(envelope)
      },
    })
    for (let i = 0; i < 100; i++) stream.send('say', 'abcd')
    expect(checks).toBe(100)
    expect(stream.unackedBytes).toBe(400)
    stream.acknowledge(90)
    expect(stream.unackedBytes).toBe(40)
    stream.restart()
    expect(stream.unackedBytes).toBe(40)
    stream.acknowledge(10)
    expect(stream.unackedBytes).toBe(0)
  })
})

describe('ReliableStream, resending and discarding', () => {
  it('resend goes on from what the peer acknowledged meanwhile, and stops when it has all', () => {
    const { sent, stream } = streamWith()
    for (const d of ['a', 'b', 'c']) stream.send('say', d)
    sent.length = 0
    // The peer acknowledges everything while a paced replay is still at 1.
    stream.acknowledge(3)
    expect(stream.resend(1)).toBe(3)
    expect(sent).toEqual([])
  })

  it('discard keeps the byte count of what it keeps and forgets what it removes', () => {
    const { stream } = streamWith({ check: (envelope) => (envelope.d as string).length })
    for (const d of ['aa', 'bbbbbbbb', 'cccc', 'dddddddddddd']) stream.send('say', d)
    stream.acknowledge(1)
    expect(stream.unackedBytes).toBe(24)
    const removed = stream.discard((envelope) => (envelope.d as string).length > 8)
    expect(removed.map((envelope) => envelope.d)).toEqual(['dddddddddddd'])
    expect(stream.unackedBytes).toBe(12)
    stream.acknowledge(3)
    expect(stream.unackedBytes).toBe(0)
  })

  it('withdraw takes back one no link wrote, numbers those after it down one, and leaves what was written', () => {
    const { link, sent, stream } = streamWith({
      check: (envelope) => (envelope.d as string).length,
    })
    stream.send('say', 'a')
    stream.send('say', 'bb')
    link.up = false
    stream.linkDown()
    for (const d of ['ccc', 'dddd', 'eeeee']) stream.send('say', d)
    const is = (d: string) => (envelope: Envelope) => envelope.d === d
    // Written on the last link: the peer may have it.
    expect(stream.withdraw(is('bb'))).toBe(0)
    expect(stream.withdraw(is('zz'))).toBe(0)
    expect(stream.withdraw(is('dddd'))).toBe(1)
    expect([stream.lastSent, stream.lastId, stream.unackedCount, stream.unackedBytes]).toEqual([
      4, 5, 4, 11,
    ])
    link.up = true
    stream.resume(1)
    expect(sent.map(({ d, s }) => [d, s])).toEqual([
      ['a', 1],
      ['bb', 2],
      ['bb', 2],
      ['ccc', 3],
      ['eeeee', 4],
    ])
    expect(stream.send('say', 'f')).toMatchObject({ s: 5 })
    stream.acknowledge(4)
    expect(stream.firstUnackedId).toBe(6)
  })

  it('withdraw leaves what an earlier link wrote, whatever a handshake since says the peer processed', () => {
    // A process that crashed may have handled them without storing it: the next one asks for
    // them again, and a handler knows each by its id (PROTOCOL.md, 11). Numbered down, the one
    // after a request taken back would come with the id of one the handler saw.
    const { link, stream } = streamWith()
    for (const d of ['a', 'b', 'c']) stream.send('say', d)
    link.up = false
    stream.linkDown()
    // The next process's `$welcome` says it has processed none of them.
    stream.writtenThrough = 0
    expect(stream.withdraw((envelope) => envelope.d === 'b')).toBe(0)
    expect(stream.unackedCount).toBe(3)
    // One never written is taken back as before.
    stream.send('say', 'd')
    expect(stream.withdraw((envelope) => envelope.d === 'd')).toBe(1)
  })

  it('withdraw takes back every one it finds in one pass, each asked once, and numbers the rest without a gap', () => {
    const { link, sent, stream } = streamWith({
      check: (envelope) => (envelope.d as string).length,
    })
    stream.send('say', 'a')
    link.up = false
    stream.linkDown()
    for (const d of ['b', 'cc', 'd', 'ee', 'f', 'gg']) stream.send('say', d)
    const asked: unknown[] = []
    const taken = stream.withdraw((envelope) => {
      asked.push(envelope.d)
      return (envelope.d as string).length === 2
    })
    expect(taken).toBe(3)
    expect(asked).toEqual(['b', 'cc', 'd', 'ee', 'f', 'gg'])
    expect([stream.lastSent, stream.lastId, stream.unackedCount, stream.unackedBytes]).toEqual([
      4, 7, 4, 4,
    ])
    link.up = true
    stream.resume(0)
    expect(sent.map(({ d, s }) => [d, s])).toEqual([
      ['a', 1],
      ['a', 1],
      ['b', 2],
      ['d', 3],
      ['f', 4],
    ])
    stream.acknowledge(4)
    expect([stream.unackedCount, stream.unackedBytes, stream.firstUnackedId]).toEqual([0, 0, 8])
  })

  it('gives every envelope an id in sending order that restart and discard do not renumber', () => {
    const { stream } = streamWith()
    expect([stream.lastId, stream.firstUnackedId]).toEqual([0, 1])
    for (const d of ['a', 'b', 'c', 'd', 'e']) stream.send('say', d)
    stream.acknowledge(1)
    expect([stream.lastId, stream.firstUnackedId]).toEqual([5, 2])
    stream.restart()
    const ids: Record<string, number> = {}
    stream.discard((envelope, id) => {
      ids[envelope.d as string] = id
      return envelope.d === 'b' || envelope.d === 'd'
    })
    expect(ids).toEqual({ b: 2, c: 3, d: 4, e: 5 })
    expect(stream.snapshot().unacked).toEqual([
      { t: 'say', d: 'c', s: 1 },
      { t: 'say', d: 'e', s: 2 },
    ])
    expect(stream.firstUnackedId).toBe(3)
    stream.acknowledge(1)
    expect(stream.firstUnackedId).toBe(5)
    stream.send('say', 'f')
    expect(stream.lastId).toBe(6)
    stream.acknowledge(3)
    expect(stream.firstUnackedId).toBe(7)
  })
})

describe('ReliableStream, disposal', () => {
  it('dispose() leaves no timer behind', () => {
    const { clock, sent, stream } = streamWith()
    stream.receive(1)
    expect(clock.pending).toBe(1)
    stream.dispose()
    expect(clock.pending).toBe(0)
    clock.advance(1_000)
    expect(sent).toEqual([])
  })
})

/**
 * Model test: two streams back to back over a link that drops (losing whatever is in flight)
 * and comes back through the handshake of PROTOCOL.md, section 4. However the drops, reconnects,
 * sends and timers interleave, once the link is up and quiet each side has processed exactly
 * what the other sent, in order, once.
 */
describe('ReliableStream, two peers over a lossy link (model test)', () => {
  type Side = 0 | 1
  type Action =
    | { readonly kind: 'send'; readonly side: Side; readonly count: number }
    | { readonly kind: 'deliver'; readonly to: Side; readonly count: number }
    | { readonly kind: 'drop'; readonly linkDown: readonly [boolean, boolean] }
    | { readonly kind: 'reconnect' }
    | { readonly kind: 'tick'; readonly ms: number }

  const side = fc.constantFrom<Side>(0, 1)
  const action: fc.Arbitrary<Action> = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant('send' as const),
        side,
        count: fc.integer({ min: 1, max: 4 }),
      }),
      weight: 5,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('deliver' as const),
        to: side,
        count: fc.integer({ min: 1, max: 6 }),
      }),
      weight: 6,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('drop' as const),
        linkDown: fc.tuple(fc.boolean(), fc.boolean()),
      }),
      weight: 1,
    },
    { arbitrary: fc.constant({ kind: 'reconnect' as const }), weight: 2 },
    {
      arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ max: 30 }) }),
      weight: 2,
    },
  )
  const settings = fc.record({
    ackEvery: fc.integer({ min: 1, max: 8 }),
    ackDelayMs: fc.integer({ min: 0, max: 25 }),
  })

  interface Peer {
    readonly name: string
    up: boolean
    readonly stream: ReliableStream
    /** Envelopes on their way to this peer, in order (the transport is ordered). */
    readonly inbound: Envelope[]
    readonly sentData: string[]
    readonly processed: unknown[]
    duplicates: number
  }

  function simulate(
    actions: readonly Action[],
    ackSettings: { ackEvery: number; ackDelayMs: number },
  ) {
    const clock = new ManualClock()
    const peers: Peer[] = []
    const makePeer = (name: string, self: Side): Peer => {
      const peer: Peer = {
        name,
        up: false,
        inbound: [],
        sentData: [],
        processed: [],
        duplicates: 0,
        stream: new ReliableStream({
          clock,
          ...ackSettings,
          isLinkUp: () => peer.up,
          transmit: (envelope) => {
            if (!peer.up) throw new Error(`${name} transmitted while its link was down`)
            ;(peers[1 - self] as Peer).inbound.push({ ...envelope })
          },
        }),
      }
      return peer
    }
    // Peer 0 plays the client (it says `$hello`), peer 1 the server.
    const client = makePeer('client', 0)
    const server = makePeer('server', 1)
    peers.push(client, server)

    const handshakeStarted = () => server.up || client.up
    const startHandshake = () => {
      // `$hello { a }` reaches the server, which answers `$welcome { a }` and replays.
      server.up = true
      client.inbound.push({ t: '$welcome', d: { a: server.stream.lastProcessed } })
      server.stream.resume(client.stream.lastProcessed)
    }
    const arrive = (peer: Peer, envelope: Envelope) => {
      if (envelope.t === '$welcome') {
        peer.up = true
        peer.stream.resume((envelope.d as { a: number }).a)
        return
      }
      if (envelope.a !== undefined) peer.stream.acknowledge(envelope.a)
      if (envelope.s === undefined) return
      if (peer.stream.receive(envelope.s) === 'process') peer.processed.push(envelope.d)
      else peer.duplicates++
    }
    const deliver = (peer: Peer, count: number) => {
      for (let i = 0; i < count; i++) {
        const envelope = peer.inbound.shift()
        if (envelope === undefined) return
        arrive(peer, envelope)
      }
    }

    for (const step of actions) {
      switch (step.kind) {
        case 'send': {
          const peer = peers[step.side] as Peer
          for (let i = 0; i < step.count; i++) {
            const data = `${peer.name}-${peer.sentData.length + 1}`
            peer.sentData.push(data)
            peer.stream.send('msg', data)
          }
          break
        }
        case 'deliver':
          deliver(peers[step.to] as Peer, step.count)
          break
        case 'drop':
          peers.forEach((peer, index) => {
            peer.up = false
            peer.inbound.length = 0
            // An owner may learn of the drop late (say, by a heartbeat): cover both.
            if (step.linkDown[index]) peer.stream.linkDown()
          })
          break
        case 'reconnect':
          if (!handshakeStarted()) startHandshake()
          break
        case 'tick':
          clock.advance(step.ms)
          break
      }
    }

    // The end: the link comes back and stays; everything in flight arrives; acks are flushed.
    if (!handshakeStarted()) startHandshake()
    for (let round = 0; round < 1_000; round++) {
      while (client.inbound.length > 0 || server.inbound.length > 0) {
        deliver(client, client.inbound.length)
        deliver(server, server.inbound.length)
      }
      if (clock.pending === 0) break
      clock.runNext()
    }
    return { client, server, clock }
  }

  it('processes exactly what the other side sent, in order, with no duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 150, size: 'max' }),
        settings,
        (actions, ackSettings) => {
          const { client, server, clock } = simulate(actions, ackSettings)
          expect(client.up && server.up).toBe(true)
          expect(server.processed).toEqual(client.sentData)
          expect(client.processed).toEqual(server.sentData)
          expect(client.stream.lastProcessed).toBe(server.sentData.length)
          expect(server.stream.lastProcessed).toBe(client.sentData.length)
          // The handshake exchanges exact acks: a resend never repeats what the peer processed.
          expect(client.duplicates + server.duplicates).toBe(0)
          // And once quiet, every envelope is acknowledged and no timer is left.
          expect(client.stream.unackedCount).toBe(0)
          expect(server.stream.unackedCount).toBe(0)
          expect(clock.pending).toBe(0)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('survives a drop between every pair of steps of a busy exchange', () => {
    const actions: Action[] = []
    for (let i = 0; i < 30; i++) {
      actions.push(
        { kind: 'send', side: 0, count: 2 },
        { kind: 'send', side: 1, count: 1 },
        { kind: 'deliver', to: 1, count: 1 },
        { kind: 'deliver', to: 0, count: 2 },
        { kind: 'drop', linkDown: [true, i % 2 === 0] },
        { kind: 'reconnect' },
        { kind: 'deliver', to: 0, count: 1 },
      )
    }
    const { client, server } = simulate(actions, { ackEvery: 4, ackDelayMs: 20 })
    expect(client.sentData).toHaveLength(60)
    expect(server.processed).toEqual(client.sentData)
    expect(client.processed).toEqual(server.sentData)
  })
})

describe('ReliableStream, saved state', () => {
  it('snapshots to plain data and restores into a fresh stream that resends the same', () => {
    const first = streamWith()
    first.link.up = false
    first.stream.send('a', 1)
    first.stream.send('b', 2)
    first.stream.receive(1)
    first.stream.receive(2)
    const state = first.stream.snapshot()
    expect(state).toEqual({
      lastProcessed: 2,
      lastSent: 2,
      unacked: [
        { t: 'a', d: 1, s: 1 },
        { t: 'b', d: 2, s: 2 },
      ],
      lossy: false,
    })
    const second = streamWith()
    second.stream.restore(JSON.parse(JSON.stringify(state)))
    second.stream.resume(1)
    expect(second.sent).toEqual([{ t: 'b', d: 2, s: 2, a: 2 }])
    expect(second.stream.send('c', 3).s).toBe(3)
  })
})

describe('ReliableStream, a message the link refuses', () => {
  it('keeps nothing and uses no number when transmitting throws', () => {
    const clock = new ManualClock()
    const stream = new ReliableStream({
      clock,
      transmit: (envelope) => {
        if (envelope.d === 'bad') throw new LifelineError('ENCODE_FAILED', 'refused')
      },
      isLinkUp: () => true,
    })
    expect(() => stream.send('x', 'bad')).toThrow(LifelineError)
    expect(stream.unackedCount).toBe(0)
    expect(stream.send('x', 'good').s).toBe(1)
  })

  it('checks a message kept while the link is down, with the same guarantee', () => {
    const clock = new ManualClock()
    const stream = new ReliableStream({
      clock,
      transmit: () => undefined,
      isLinkUp: () => false,
      check: (envelope) => {
        if (envelope.d === 'bad') throw new LifelineError('ENCODE_FAILED', 'refused')
      },
    })
    expect(() => stream.send('x', 'bad')).toThrow(LifelineError)
    expect(stream.unackedCount).toBe(0)
    expect(stream.send('x', 'good').s).toBe(1)
  })
})
