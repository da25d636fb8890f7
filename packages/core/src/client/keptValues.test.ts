import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'

// The outbox keeps a message as the value it was given, and encodes it again for the next link:
// a value the application changed since into one the codec refuses must not end the client.

let clock: ManualClock

function welcome(resumed: boolean) {
  FakeWebSocket.last.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed, a: 0 } })
}

/** Drops the link and waits out the backoff: the next link is being opened. */
function dropLink() {
  FakeWebSocket.last.serverClose(1006, '', false)
  clock.advance(250)
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('a kept value changed into one the codec refuses', () => {
  it('leaves the outbox, reported, its request rejected, and the rest goes on the link', async () => {
    const client = createFakeClient(clock)
    const events: string[] = []
    client.events.on('error', (error) => events.push(`error:${error.code}`))
    client.events.on('drop', (event) => events.push(`drop:${event.type}:${event.reason}`))
    welcome(false)
    dropLink()
    const doc: Record<string, unknown> = { title: 'draft' }
    const saved = client.request('save', doc)
    client.send('say', 'after')
    const other = client.request('echo', 'other')
    doc.self = doc
    welcome(true)
    expect(client.state.status).toBe('open')
    await expect(saved).rejects.toMatchObject({ code: 'ENCODE_FAILED' })
    expect(events).toEqual(['error:ENCODE_FAILED', 'drop:save:unencodable'])
    // Numbered again without a gap, as the server processed none of them.
    expect(received().slice(1)).toEqual([
      { t: 'say', d: 'after', s: 1, a: 0 },
      { t: '$req', d: { id: 2, m: 'echo', d: 'other' }, s: 2, a: 0 },
    ])
    deliver({ t: '$res', d: { id: 2, d: 'echoed' }, s: 1, a: 2 })
    await expect(other).resolves.toBe('echoed')
    client.close()
  })

  it("answers the server's request with a coded error when its kept result can no longer be sent", async () => {
    const client = createFakeClient(clock)
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    const state: Record<string, unknown> = { items: [1] }
    let answer!: (value: Record<string, unknown>) => void
    client.handle('state', () => new Promise((resolve) => (answer = resolve)))
    welcome(false)
    deliver({ t: '$req', d: { id: 1, m: 'state', d: null }, s: 1 })
    await new Promise((resolve) => setTimeout(resolve, 0))
    dropLink()
    // Answered while the link is down: kept for the next one, as the value returned.
    answer(state)
    await new Promise((resolve) => setTimeout(resolve, 0))
    state.big = 1n
    welcome(true)
    expect(client.state.status).toBe('open')
    expect(errors).toEqual(['ENCODE_FAILED'])
    expect(received().slice(1)).toEqual([
      {
        t: '$res',
        d: { id: 1, e: { code: 'ENCODE_FAILED', message: expect.any(String) } },
        s: 1,
        a: 1,
      },
    ])
    client.close()
  })
})
