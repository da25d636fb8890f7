import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from '../protocol/envelope.js'
import { createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'

// The server discarded what the client sent after `a` (it pipelined past what may wait) and asks
// for it again on the same link: `$resend`, answered by the marker and everything unacknowledged,
// in order (PROTOCOL.md, section 9). The link stays up.

let clock: ManualClock

function welcome(sid = 'S1') {
  FakeWebSocket.last.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid, resumed: false, a: 0 } })
}

/** What the client sends from now on. */
function sentFrom(): () => Envelope[] {
  const from = FakeWebSocket.last.sent.length
  return () => received().slice(from)
}

/** An open client, and every state change and reconnect from now on. */
function openClient(): { client: Client; events: string[] } {
  const client = createFakeClient(clock)
  welcome()
  const events: string[] = []
  client.events.on('statechange', (state) => events.push(`state ${state.status}`))
  client.socket.addEventListener('reconnecting', () => events.push('reconnecting'))
  return { client, events }
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('$resend from the server', () => {
  it('says rs: 1 in every $hello', () => {
    createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toMatchObject({ t: '$hello', d: { v: 1, rs: 1 } })
  })

  it('answers with the marker, then each envelope after a once and in order, on the same link', async () => {
    const { client, events } = openClient()
    for (let n = 1; n <= 3; n++) client.send('m', n)
    const answer = client.request('echo', 4)
    client.send('m', 5)
    const sent = sentFrom()
    deliver({ t: '$resend', a: 2 })
    expect(sent()).toEqual([
      { t: '$resend' },
      { t: 'm', d: 3, s: 3, a: 0 },
      { t: '$req', d: { id: 1, m: 'echo', d: 4 }, s: 4, a: 0 },
      { t: 'm', d: 5, s: 5, a: 0 },
    ])
    // The acknowledgement it carried is applied; what follows is numbered on.
    expect(client.unacked).toBe(3)
    client.send('m', 6)
    expect(sent().slice(4)).toEqual([{ t: 'm', d: 6, s: 6, a: 0 }])
    // The request is answered once.
    deliver({ t: '$res', d: { id: 1, d: 'four' }, s: 1, a: 6 })
    await expect(answer).resolves.toBe('four')
    expect(client.unacked).toBe(0)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeWebSocket.last.closedWith).toBeUndefined()
    expect(events).toEqual([])
    expect(client.state.status).toBe('open')
    client.close()
  })

  it('answers every $resend, each with what is unacknowledged then', () => {
    const { client, events } = openClient()
    for (let n = 1; n <= 4; n++) client.send('m', n)
    const sent = sentFrom()
    deliver({ t: '$resend', a: 1 })
    deliver({ t: '$resend', a: 3 })
    expect(sent().map(({ t, s }) => (s === undefined ? t : s))).toEqual([
      '$resend',
      2,
      3,
      4,
      '$resend',
      4,
    ])
    expect(events).toEqual([])
    client.close()
  })

  it('answers with the marker alone when nothing is left to resend', () => {
    const { client, events } = openClient()
    client.send('m', 1)
    client.send('m', 2, { reliable: false })
    const sent = sentFrom()
    deliver({ t: '$resend', a: 1 })
    // The unreliable message was lost with what the server discarded, as on a lost link.
    expect(sent()).toEqual([{ t: '$resend' }])
    expect(client.unacked).toBe(0)
    expect(events).toEqual([])
    client.close()
  })

  it.each([
    { case: 'a $resend without a', frame: { t: '$resend' } },
    { case: 'a $resend with s', frame: { t: '$resend', a: 0, s: 1 } },
    { case: 'a $resend with d', frame: { t: '$resend', a: 0, d: {} } },
    { case: 'a $resend acknowledging what was never sent', frame: { t: '$resend', a: 2 } },
  ])('drops the link as a violation (4002) for $case, and resends on the next', ({ frame }) => {
    const { client, events } = openClient()
    client.send('m', 1)
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    const sent = sentFrom()
    deliver(frame as Envelope)
    expect(sent()).toEqual([])
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    expect(events).toEqual(['state reconnecting', 'reconnecting'])
    const { state } = client
    if (state.status === 'reconnecting') clock.advance(state.delayMs)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
    expect(received().slice(1)).toEqual([{ t: 'm', d: 1, s: 1, a: 0 }])
    client.close()
  })

  it('answers a $resend with the same a again when it had nothing to resend', () => {
    const { client, events } = openClient()
    client.send('m', 1)
    deliver({ t: '$ack', a: 1 })
    const sent = sentFrom()
    deliver({ t: '$resend', a: 1 })
    client.send('m', 2, { reliable: false })
    // What it sent after the marker may have been discarded before anything was processed.
    deliver({ t: '$resend', a: 1 })
    expect(sent()).toEqual([{ t: '$resend' }, { t: 'm', d: 2 }, { t: '$resend' }])
    expect(events).toEqual([])
    client.close()
  })

  it.each([
    {
      case: 'acknowledging less than the server had',
      script: [
        { t: '$ack', a: 2 },
        { t: '$resend', a: 1 },
      ],
      resent: [],
    },
    {
      // The server processes the envelope resent right behind the marker before it may ask again.
      case: 'before the server processed what the last one resent',
      script: [
        { t: '$resend', a: 1 },
        { t: '$resend', a: 1 },
      ],
      resent: ['$resend', 2, 3],
    },
  ])(
    'drops the link as a violation (4002) for a resend request $case, resending nothing more',
    ({ script, resent }) => {
      const { client, events } = openClient()
      for (let n = 1; n <= 3; n++) client.send('m', n)
      const errors: string[] = []
      client.events.on('error', (error) => errors.push(error.code))
      const sent = sentFrom()
      for (const frame of script) deliver(frame as Envelope)
      expect(sent().map(({ t, s }) => (s === undefined ? t : s))).toEqual(resent)
      expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
      expect(errors).toEqual(['PROTOCOL_ERROR'])
      expect(events).toEqual(['state reconnecting', 'reconnecting'])
      client.close()
    },
  )

  it('drops the link as a violation for a $resend before $welcome', () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$resend', a: 0 })
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    expect(received().map((e) => e.t)).toEqual(['$hello'])
    client.close()
  })
})
