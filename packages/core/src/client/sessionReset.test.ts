import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'

// A session reset: the server no longer has the session, and what was in flight in it is told
// apart from what the new one numbers from 1 again.

let clock: ManualClock

function welcome(sid: string) {
  FakeWebSocket.last.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid, resumed: false, a: 0 } })
}

/** Drops the link, waits out the backoff and welcomes the client into session `sid`. */
function resetInto(sid: string) {
  FakeWebSocket.last.fail()
  clock.advance(250)
  welcome(sid)
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('across a session reset', () => {
  it("sends no answer to the previous session's request into the new session", async () => {
    const client = createFakeClient(clock)
    let finish!: (value: string) => void
    client.handle('slow', () => new Promise<string>((resolve) => (finish = resolve)))
    welcome('S1')
    deliver({ t: '$req', d: { id: 1, m: 'slow', d: null }, s: 1 })
    await Promise.resolve()
    resetInto('S2')
    const from = FakeWebSocket.last.sent.length
    // The new session's first request has the id the old one had (the server numbers by `s`).
    deliver({ t: '$req', d: { id: 1, m: 'other', d: null }, s: 1 })
    finish('for S1')
    await new Promise((resolve) => setTimeout(resolve, 0))
    const answers = received()
      .slice(from)
      .filter((envelope) => envelope.t === '$res')
    // Only the new session's own answer (NOT_FOUND for 'other') may answer its request 1.
    expect(answers.map((envelope) => envelope.d)).toEqual([
      { id: 1, e: { code: 'NOT_FOUND', message: "no method 'other' on this client" } },
    ])
    client.close()
  })

  it('does not resend an answer kept for the previous session as new', async () => {
    const client = createFakeClient(clock)
    client.handle('echo', (data) => data)
    welcome('S1')
    deliver({ t: '$req', d: { id: 1, m: 'echo', d: 'old' }, s: 1 })
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(received().at(-1)).toMatchObject({ t: '$res', d: { id: 1, d: 'old' } })
    client.send('m', 'kept')
    FakeWebSocket.last.fail()
    clock.advance(250)
    welcome('S2')
    expect(received().slice(1)).toEqual([{ t: 'm', d: 'kept', s: 1, a: 0 }])
    client.close()
  })

  it('rejects a request the previous session acknowledged and never answered', async () => {
    const client = createFakeClient(clock)
    welcome('S1')
    const answer = client.request('slow', null, { timeoutMs: Infinity })
    deliver({ t: '$ack', a: 1 })
    resetInto('S2')
    // The new session never heard of it: it would wait for as long as the client lives.
    const outcome = answer.then(
      () => 'resolved',
      (error: { code: string }) => error.code,
    )
    const pending = new Promise((resolve) => setTimeout(resolve, 0, 'pending'))
    await expect(Promise.race([outcome, pending])).resolves.toBe('CLOSED')
    expect(received().slice(1)).toEqual([])
    client.close()
  })

  it('sends a request still unacknowledged at the reset again, and its answer settles it', async () => {
    const client = createFakeClient(clock)
    welcome('S1')
    const answer = client.request('slow', null)
    resetInto('S2')
    expect(received().slice(1)).toEqual([
      { t: '$req', d: { id: 1, m: 'slow', d: null }, s: 1, a: 0 },
    ])
    deliver({ t: '$res', d: { id: 1, d: 'done' }, s: 1, a: 1 })
    await expect(answer).resolves.toBe('done')
    client.close()
  })
})

describe("a 'reset' listener", () => {
  it('that closes the client leaves it closing, not open', async () => {
    const client = createFakeClient(clock)
    welcome('S1')
    client.send('m', 'kept')
    FakeWebSocket.last.fail()
    clock.advance(250)
    client.events.on('reset', () => client.close())
    const states: string[] = []
    client.events.on('statechange', (state) => states.push(state.status))
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    welcome('S2')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(states).toEqual(['closing', 'closed'])
    expect(errors).toEqual([])
    expect(received().slice(1)).toEqual([])
    // The message is kept for the new session, sent after connect().
    client.connect()
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toMatchObject({ t: '$hello', d: { sid: 'S2', a: 0, sa: 0 } })
    deliver({ t: '$welcome', d: { sid: 'S2', resumed: true, a: 0 } })
    expect(received().slice(1)).toEqual([{ t: 'm', d: 'kept', s: 1, a: 0 }])
    client.close()
  })

  it('that closes the client with nothing to resend leaves it closing, not open', async () => {
    const client = createFakeClient(clock)
    welcome('S1')
    FakeWebSocket.last.fail()
    clock.advance(250)
    client.events.on('reset', () => client.close())
    const states: string[] = []
    client.events.on('statechange', (state) => states.push(state.status))
    welcome('S2')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(states).toEqual(['closing', 'closed'])
  })
})
