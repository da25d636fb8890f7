import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from './envelope.js'
import { RoomCursors, cursorAckDelayMs, cursorIdleMs, maxRoomCursors } from './roomCursors.js'

// The client's room cursors on their own, with no acknowledgement by count: what a batch of
// moves not yet acknowledged does to the idle rule. (Through a client: client/roomCursors.test.ts.)

function cursors(clock: ManualClock) {
  const acks: Envelope[] = []
  const rooms = new RoomCursors({
    clock,
    transmit: (envelope) => acks.push(envelope),
    serverMax: () => undefined,
    ackEvery: Infinity,
    ackDelayMs: cursorAckDelayMs,
  })
  return { rooms, acks }
}

describe('RoomCursors', () => {
  it('never forgets as idle a cursor that moved after its last acknowledgement', () => {
    const clock = new ManualClock(0)
    const { rooms, acks } = cursors(clock)
    for (let i = 0; i < maxRoomCursors; i++) rooms.arrive([`doc-${i}`, '1-0'])
    clock.advance(cursorIdleMs)
    // In frames of at most 64 KiB.
    const acknowledged = acks.length
    expect(acknowledged).toBeGreaterThan(0)
    // Every cursor moves again, in the order they came: the oldest in the map moved just now,
    // though its move is stamped only when acknowledged.
    for (let i = 0; i < maxRoomCursors; i++) expect(rooms.arrive([`doc-${i}`, '2-0'])).toBe(true)
    expect(() => rooms.arrive(['one-more', '1-0'])).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_ERROR' }),
    )
    // Acknowledged a little later, and stamped then: idle that much later, never sooner.
    clock.advance(cursorAckDelayMs)
    expect(acks.length).toBeGreaterThan(acknowledged)
    clock.advance(cursorIdleMs - 1)
    expect(() => rooms.arrive(['one-more', '1-0'])).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_ERROR' }),
    )
    clock.advance(cursorAckDelayMs + 1)
    expect(rooms.arrive(['one-more', '1-0'])).toBe(true)
  })

  it('acknowledges each room at the last id delivered, in the order they first moved', () => {
    const clock = new ManualClock(0)
    const { rooms, acks } = cursors(clock)
    rooms.arrive(['b', '1-0'])
    rooms.arrive(['a', '1-0'])
    rooms.arrive(['b', '2-0'])
    rooms.arrive(['b', '3-0'])
    expect(rooms.arrive(['b', '3-0'])).toBe(false)
    rooms.arrive(['a', '5-0'])
    clock.advance(cursorAckDelayMs)
    expect(acks).toEqual([
      {
        t: '$ack',
        d: {
          r: [
            ['b', '3-0'],
            ['a', '5-0'],
          ],
        },
      },
    ])
    // The last room's cursor still drops what is not past it, after the batch.
    expect(rooms.arrive(['a', '4-0'])).toBe(false)
    expect(rooms.arrive(['b', '3-0'])).toBe(false)
    expect(rooms.arrive(['b', '4-0'])).toBe(true)
  })
})
