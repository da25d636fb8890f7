import { beforeEach, describe, expect, it } from 'vitest'
import { isLifelineError } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'

// Delivery receipts: `send` returns a number, `delivered(receipt)` a promise that settles on the
// server's acknowledgement of that message.

let clock: ManualClock
const create = (options: Partial<ClientOptions> = {}): Client => createFakeClient(clock, options)

function welcome(d: Record<string, unknown> = {}, socket = FakeWebSocket.last) {
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0, ...d } }, socket)
}

/** The link drops (1006) and the client's retry, after its backoff, opens a new socket. */
function dropAndRetry() {
  const sockets = FakeWebSocket.instances.length
  FakeWebSocket.last.serverClose(1006, '', false)
  while (FakeWebSocket.instances.length === sockets) clock.advance(50)
}

/** What a promise has come to once pending microtasks ran: 'pending', 'done' or its error code. */
async function outcome(promise: Promise<void>): Promise<string> {
  let result = 'pending'
  promise.then(
    () => (result = 'done'),
    (error: unknown) => (result = isLifelineError(error) ? error.code : `not typed: ${error}`),
  )
  await new Promise((resolve) => setTimeout(resolve, 0))
  return result
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('delivery receipts', () => {
  it("settle on the server's acknowledgement of their message, not before, in any order asked", async () => {
    const client = create()
    welcome()
    const receipts = [1, 2, 3].map((n) => client.send('say', n))
    expect(receipts).toEqual([1, 2, 3])
    const [first, second, third] = [receipts[2], receipts[0], receipts[1]].map((receipt) =>
      client.delivered(receipt as number),
    ) as Promise<void>[]
    expect(await outcome(second as Promise<void>)).toBe('pending')
    deliver({ t: '$ack', a: 1 })
    expect([await outcome(second!), await outcome(third!), await outcome(first!)]).toEqual([
      'done',
      'pending',
      'pending',
    ])
    // An acknowledgement carried by a message counts as well.
    deliver({ t: 'said', d: 'hi', s: 1, a: 3 })
    expect([await outcome(third!), await outcome(first!)]).toEqual(['done', 'done'])
    client.close()
  })

  it('resolve at once for a message already acknowledged, and hand out one promise per receipt', async () => {
    const client = create()
    welcome()
    const receipt = client.send('say', 'x')
    const waiting = client.delivered(receipt)
    expect(client.delivered(receipt)).toBe(waiting)
    deliver({ t: '$ack', a: 1 })
    expect(await outcome(client.delivered(receipt))).toBe('done')
    expect(await outcome(waiting)).toBe('done')
    client.close()
  })

  it('wait across a reconnect for a message sent offline, and resolve on the resume', async () => {
    const client = create()
    welcome()
    dropAndRetry()
    const receipt = client.send('say', 'offline')
    const delivered = client.delivered(receipt)
    welcome({ resumed: true, a: 0 })
    expect(received().at(-1)).toMatchObject({ t: 'say', s: 1 })
    expect(await outcome(delivered)).toBe('pending')
    // The server processed it, the ack was lost with the link: the resume's `a` says so.
    dropAndRetry()
    welcome({ resumed: true, a: 1 })
    expect(await outcome(delivered)).toBe('done')
    client.close()
  })

  it('wait through a session reset for the new session to acknowledge the message sent again', async () => {
    const client = create()
    welcome()
    client.send('say', 'acknowledged')
    deliver({ t: '$ack', a: 1 })
    const receipt = client.send('say', 'lost with the session')
    const delivered = client.delivered(receipt)
    dropAndRetry()
    welcome({ sid: 'S2', resumed: false, a: 0 })
    // Sent again as the new session's first message: the receipt still names it.
    expect(received().at(-1)).toMatchObject({ t: 'say', d: 'lost with the session', s: 1 })
    expect(await outcome(delivered)).toBe('pending')
    expect(await outcome(client.delivered(1))).toBe('done')
    deliver({ t: '$ack', a: 1 })
    expect(await outcome(delivered)).toBe('done')
    client.close()
  })

  it('reject CLOSED when the client is closed before the acknowledgement, also when asked later', async () => {
    const client = create()
    welcome()
    const acknowledged = client.send('say', 1)
    const unacknowledged = client.send('say', 2)
    deliver({ t: '$ack', a: 1 })
    const delivered = client.delivered(unacknowledged)
    client.close()
    expect(await outcome(delivered)).toBe('CLOSED')
    expect(await outcome(client.delivered(unacknowledged))).toBe('CLOSED')
    expect(await outcome(client.delivered(acknowledged))).toBe('done')
    // connect() sends it again: a new receipt promise waits for it.
    client.connect()
    welcome({ resumed: true, a: 1 })
    const again = client.delivered(unacknowledged)
    deliver({ t: '$ack', a: 2 })
    expect(await outcome(again)).toBe('done')
    client.close()
  })

  it('reject with the cause when the client ends on its own (a fatal close code)', async () => {
    const client = create()
    welcome()
    const delivered = client.delivered(client.send('say', 1))
    FakeWebSocket.last.serverClose(4401, 'expired')
    expect(client.state.status).toBe('closed')
    expect(await outcome(delivered)).toBe('UNAUTHENTICATED')
    expect(await outcome(client.delivered(1))).toBe('UNAUTHENTICATED')
  })

  it('wait, in a client created closed, for connect()', async () => {
    const client = create({ startClosed: true })
    const delivered = client.delivered(client.send('say', 1))
    expect(await outcome(delivered)).toBe('pending')
    client.connect()
    welcome()
    deliver({ t: '$ack', a: 1 })
    expect(await outcome(delivered)).toBe('done')
    client.close()
  })

  it("reject MESSAGE_TOO_LARGE for a message the outbox refused at a $welcome's max; the others keep their receipts", async () => {
    const client = create()
    const small = client.send('say', 'small')
    const large = client.send('say', 'x'.repeat(2_000))
    const last = client.send('say', 'last')
    const waiting = [small, large, last].map((receipt) => client.delivered(receipt))
    welcome({ max: 1_100 })
    // Renumbered without a gap on the wire; the receipts still name their messages.
    expect(received().slice(1)).toMatchObject([
      { d: 'small', s: 1 },
      { d: 'last', s: 2 },
    ])
    expect(await outcome(waiting[1]!)).toBe('MESSAGE_TOO_LARGE')
    expect(await outcome(client.delivered(large))).toBe('MESSAGE_TOO_LARGE')
    deliver({ t: '$ack', a: 1 })
    expect([await outcome(waiting[0]!), await outcome(waiting[2]!)]).toEqual(['done', 'pending'])
    deliver({ t: '$ack', a: 2 })
    expect(await outcome(waiting[2]!)).toBe('done')
    client.close()
  })

  it('count requests among the ids, and reject INVALID_ARGUMENT for a receipt that names no message', async () => {
    const client = create()
    welcome()
    expect(client.send('say', 1)).toBe(1)
    void client.request('add', 1).catch(() => undefined)
    expect(client.send('say', 3)).toBe(3)
    expect(client.send('say', 'unreliable', { reliable: false })).toBe(0)
    for (const receipt of [0, 4, -1, 1.5, Number.NaN]) {
      expect(await outcome(client.delivered(receipt))).toBe('INVALID_ARGUMENT')
    }
    client.close()
    const raw = create({ mode: 'raw' })
    FakeWebSocket.last.accept()
    expect(raw.send('say', 1)).toBe(0)
    expect(await outcome(raw.delivered(1))).toBe('INVALID_ARGUMENT')
    raw.close()
  })
})
