import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { compareRoomIds, parseEnvelope } from '../protocol/envelope.js'
import type { Envelope } from '../protocol/envelope.js'
import {
  cursorAckDelayMs,
  cursorAckEvery,
  cursorIdleMs,
  maxRoomCursors,
} from '../protocol/roomCursors.js'
import { codec, createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'

// Room messages numbered by their room (`r`), not by the session: delivered once, a duplicate
// dropped by its id, the cursors acknowledged on a cadence of their own.

let clock: ManualClock
const create = (options: Partial<ClientOptions> = {}): Client => createFakeClient(clock, options)

function welcome(sid = 'S1', resumed = false, a = 0) {
  const socket = FakeWebSocket.last
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid, resumed, a } }, socket)
}

const room = (name: string, id: string, text = id): Envelope => ({
  t: 'said',
  d: text,
  r: [name, id],
})

/** The room cursors the client acknowledged on the current link, in order. */
const cursorAcks = () =>
  received()
    .filter((envelope) => envelope.t === '$ack' && envelope.d !== undefined)
    .map((envelope) => (envelope.d as { r: [string, string][] }).r)

function collect(client: Client): unknown[] {
  const seen: unknown[] = []
  client.on('said', (data) => seen.push(data))
  return seen
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('room messages numbered by their room', () => {
  it('says in $hello that it takes them', () => {
    const client = create()
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toMatchObject({ t: '$hello', d: { v: 1, r: 1 } })
    client.close()
  })

  it('delivers each once and drops one whose id is not past its room cursor', () => {
    const client = create()
    const seen = collect(client)
    welcome()
    deliver(room('a', '5-0'))
    deliver(room('b', '3-0'))
    deliver(room('a', '5-0'))
    deliver(room('a', '4-9'))
    deliver(room('a', '5-1'))
    deliver(room('b', '3-0'))
    expect(seen).toEqual(['5-0', '3-0', '5-1'])
    client.close()
  })

  it('compares ids as BigInt pairs would, over many random ids', () => {
    // A deterministic generator: digits of every length, equal parts on purpose.
    let seed = 7
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648)
    const part = () => {
      const length = 1 + (next() % 20)
      if (next() % 4 === 0) return '0'
      let digits = String(1 + (next() % 9))
      while (digits.length < length) digits += String(next() % 10)
      return digits
    }
    const ids = Array.from({ length: 200 }, () => `${part()}-${part()}`)
    ids.push('12-3', '12-3', '12-30', '120-3')
    const sign = (value: number | bigint) => (value > 0 ? 1 : value < 0 ? -1 : 0)
    for (const a of ids) {
      for (const b of ids) {
        const [am = '', as = ''] = a.split('-')
        const [bm = '', bs = ''] = b.split('-')
        const expected = sign(BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs))
        expect([a, b, sign(compareRoomIds(a, b))]).toEqual([a, b, expected])
      }
    }
  })

  it('compares ids as two integers, not as strings', () => {
    expect(compareRoomIds('9-0', '10-0')).toBeLessThan(0)
    expect(compareRoomIds('10-0', '9-0')).toBeGreaterThan(0)
    expect(compareRoomIds('1-10', '1-9')).toBeGreaterThan(0)
    expect(compareRoomIds('18446744073709551615-1', '18446744073709551615-0')).toBeGreaterThan(0)
    expect(compareRoomIds('7-7', '7-7')).toBe(0)
    // As many digits on either side: compared as strings, which is the same.
    expect(compareRoomIds('19-5', '20-1')).toBeLessThan(0)
    expect(compareRoomIds('20-19', '20-20')).toBeLessThan(0)
    expect(compareRoomIds('20-20', '20-19')).toBeGreaterThan(0)
    const client = create()
    const seen = collect(client)
    welcome()
    deliver(room('a', '9-0'))
    deliver(room('a', '10-0'))
    deliver(room('a', '9-5'))
    expect(seen).toEqual(['9-0', '10-0'])
    client.close()
  })

  it('takes __proto__ as a plain room', () => {
    const client = create()
    const seen = collect(client)
    welcome()
    deliver(room('__proto__', '1-0'))
    deliver(room('__proto__', '1-0'))
    deliver(room('constructor', '1-0'))
    expect(seen).toEqual(['1-0', '1-0'])
    clock.advance(cursorAckDelayMs)
    expect(cursorAcks()).toEqual([
      [
        ['__proto__', '1-0'],
        ['constructor', '1-0'],
      ],
    ])
    client.close()
  })

  it('acknowledges the cursors that advanced, after cursorAckDelayMs or cursorAckEvery messages', () => {
    // The session's own cadence (ackEvery, ackDelayMs) does not apply to room cursors.
    const client = create({ ackEvery: 1, ackDelayMs: 1 })
    welcome()
    deliver(room('a', '1-0'))
    deliver(room('b', '1-0'))
    clock.advance(cursorAckDelayMs - 1)
    expect(cursorAcks()).toEqual([])
    clock.advance(1)
    expect(cursorAcks()).toEqual([
      [
        ['a', '1-0'],
        ['b', '1-0'],
      ],
    ])
    // A duplicate advances nothing: nothing to acknowledge.
    deliver(room('a', '1-0'))
    clock.advance(cursorAckDelayMs * 2)
    expect(cursorAcks()).toHaveLength(1)
    for (let i = 2; i < cursorAckEvery; i++) deliver(room('a', `${i}-0`))
    deliver(room('b', '2-0'))
    expect(cursorAcks()).toHaveLength(1)
    deliver(room('b', '3-0'))
    // The last of cursorAckEvery at once, with only the last id per room.
    expect(cursorAcks()[1]).toEqual([
      ['a', `${cursorAckEvery - 1}-0`],
      ['b', '3-0'],
    ])
    client.close()
  })

  it('acknowledges a busy room every 2 s: one $ack frame per member and cadence, not per message', () => {
    const client = create()
    const seen = collect(client)
    welcome()
    // A message every 10 ms for 10 s, as a member of a room of a thousand members gets them.
    for (let i = 1; i <= 1_000; i++) {
      deliver(room('busy', `${i}-0`))
      clock.advance(10)
    }
    expect(seen).toHaveLength(1_000)
    // Each with the room's latest id at its time.
    expect(cursorAcks()).toEqual([200, 400, 600, 800, 1_000].map((n) => [['busy', `${n}-0`]]))
    client.close()
  })

  it('owes nothing to the next link: its server may not have delivered that far', () => {
    const client = create()
    const seen = collect(client)
    welcome()
    deliver(room('a', '1-0'))
    FakeWebSocket.last.serverClose(1006)
    clock.advance(1_000)
    welcome('S1', true)
    clock.advance(cursorAckDelayMs)
    expect(cursorAcks()).toEqual([])
    // The cursor stays: what the resumed session sends again is a duplicate.
    deliver(room('a', '1-0'))
    deliver(room('a', '2-0'))
    expect(seen).toEqual(['1-0', '2-0'])
    client.close()
  })

  it('acknowledges once, on the next link, the cursor a resume sent again: what was owed on the last is not lost for good', () => {
    const client = create()
    const seen = collect(client)
    welcome()
    for (let i = 1; i <= 5; i++) deliver(room('a', `${i}-0`))
    // The link drops before the cursor was acknowledged: the server stored none of it.
    FakeWebSocket.last.serverClose(1006)
    clock.advance(1_000)
    welcome('S1', true)
    // The resumed session sends again from its stored cursor, up to the client's; then the room
    // is quiet.
    for (let i = 1; i <= 5; i++) deliver(room('a', `${i}-0`))
    deliver(room('a', '5-0'))
    expect(seen).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0'])
    clock.advance(cursorAckDelayMs)
    expect(cursorAcks()).toEqual([[['a', '5-0']]])
    // Once per link: the same duplicate again owes nothing.
    deliver(room('a', '5-0'))
    clock.advance(cursorAckDelayMs * 2)
    expect(cursorAcks()).toHaveLength(1)
    client.close()
  })

  it('acknowledges at most cursorAckEvery (256) messages late, well within a room history of 1,000', () => {
    expect(cursorAckEvery).toBe(256)
    const client = create()
    welcome()
    for (let i = 1; i <= 600; i++) deliver(room('fast', `${i}-0`))
    expect(cursorAcks()).toEqual([[['fast', '256-0']], [['fast', '512-0']]])
    client.close()
  })

  it('clears its cursors on a session reset', () => {
    const client = create()
    const seen = collect(client)
    welcome('S1')
    deliver(room('a', '5-0'))
    FakeWebSocket.last.serverClose(1006)
    clock.advance(1_000)
    welcome('S2', false)
    deliver(room('a', '5-0'))
    expect(seen).toEqual(['5-0', '5-0'])
    client.close()
  })

  it('splits a large acknowledgement into $ack frames under the cap', () => {
    const client = create()
    welcome()
    const name = 'x'.repeat(1_000)
    for (let i = 0; i < 80; i++) deliver(room(`${name}${i}`, '1-0'))
    clock.advance(cursorAckDelayMs)
    const frames = FakeWebSocket.last.sent.filter((frame) =>
      String(frame).startsWith('{"t":"$ack"'),
    )
    expect(frames.length).toBeGreaterThan(1)
    for (const frame of frames) expect(String(frame).length).toBeLessThanOrEqual(65_536)
    expect(cursorAcks().flat()).toHaveLength(80)
    client.close()
  })

  it(`refuses messages from more than ${maxRoomCursors} rooms with PROTOCOL_ERROR`, () => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome()
    for (let i = 0; i < maxRoomCursors; i++) deliver(room(`r${i}`, '1-0'))
    expect(errors).toEqual([])
    deliver(room('one-more', '1-0'))
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(FakeWebSocket.instances[0]?.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    client.close()
  })
})

describe('rooms over a long session', () => {
  /** A client without a heartbeat (the fake server answers no ping over the minute that passes). */
  function longSession() {
    const client = create({ heartbeat: false })
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    return { client, errors }
  }

  it('forgets cursors idle for cursorIdleMs to take a new room at the bound', () => {
    const { client, errors } = longSession()
    const seen = collect(client)
    welcome()
    // One room at a time over a long session: joined, a message, left.
    for (let i = 0; i < maxRoomCursors; i++) deliver(room(`doc-${i}`, `${i + 1}-0`))
    clock.advance(cursorIdleMs - 1)
    // doc-0 moves: it is now the newest, doc-1 the idlest.
    deliver(room('doc-0', '20000-0'))
    clock.advance(1)
    deliver(room(`doc-${maxRoomCursors}`, '20001-0'))
    expect(errors).toEqual([])
    expect(seen).toHaveLength(maxRoomCursors + 2)
    // The cursors it kept still drop duplicates: doc-0's too, the first room it had.
    deliver(room('doc-0', '20000-0'))
    deliver(room('doc-2', '3-0'))
    deliver(room(`doc-${maxRoomCursors}`, '20001-0'))
    expect(seen).toHaveLength(maxRoomCursors + 2)
    client.close()
  })

  it('counts the newest cursor moving again as a move: it is not forgotten as idle', () => {
    const { client, errors } = longSession()
    welcome()
    const newest = `doc-${maxRoomCursors - 1}`
    for (let i = 0; i < maxRoomCursors; i++) deliver(room(`doc-${i}`, '1-0'))
    clock.advance(cursorIdleMs - 1)
    // The newest moves again, where it stands.
    deliver(room(newest, '2-0'))
    clock.advance(1)
    // New rooms take the places of the idle ones, until only the newest of before is left.
    for (let i = 0; i < maxRoomCursors - 1; i++) deliver(room(`new-${i}`, '1-0'))
    expect(errors).toEqual([])
    // It moved a millisecond ago: not idle, so there is no room for one more.
    deliver(room('one-more', '1-0'))
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    client.close()
  })

  it('refuses a new room at the bound while every cursor moved within cursorIdleMs', () => {
    const { client, errors } = longSession()
    welcome()
    for (let i = 0; i < maxRoomCursors; i++) deliver(room(`doc-${i}`, '1-0'))
    clock.advance(cursorIdleMs - 1)
    deliver(room('one-more', '1-0'))
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    client.close()
  })
})

describe('a hostile r', () => {
  const hostile: [string, unknown][] = [
    ['not an array', 'a'],
    ['one element', ['a']],
    ['three elements', ['a', '1-0', 'x']],
    ['a number as room', [1, '1-0']],
    ['a number as id', ['a', 1]],
    ['an id without seq', ['a', '1']],
    ['an id with leading zeros', ['a', '01-0']],
    ['a negative id', ['a', '-1-0']],
    ['an id of 21 digits', ['a', `${'9'.repeat(21)}-0`]],
    ['a huge room name', ['x'.repeat(2_000), '1-0']],
    ['an object', { __proto__: null, 0: 'a', 1: '1-0' }],
  ]
  it.each(hostile)('refuses %s with PROTOCOL_ERROR (4002)', (_name, r) => {
    const client = create()
    const seen = collect(client)
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome()
    FakeWebSocket.last.receive(JSON.stringify({ t: 'said', d: 1, r }))
    expect(seen).toEqual([])
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    client.close()
  })

  it('refuses an r with s, or on a control frame', () => {
    expect(() => parseEnvelope({ t: 'said', s: 1, r: ['a', '1-0'] })).toThrow(/envelope/)
    expect(() => parseEnvelope({ t: '$ack', r: ['a', '1-0'] })).toThrow(/envelope/)
    expect(parseEnvelope(codec.decode(JSON.stringify(room('a', '1-0'))))).toEqual(room('a', '1-0'))
  })
})
