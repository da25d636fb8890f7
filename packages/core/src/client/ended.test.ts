import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver } from './fakeLink.js'

// A client that ends on its own (a fatal close code, retries exhausted) settles what waits on
// the server with the error that ended it, as `close()` settles it with CLOSED.

let clock: ManualClock

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

/** What `promise` has come to once the microtasks and a macrotask have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  const settled = promise.then(
    () => 'resolved',
    (error: { code: string }) => error.code,
  )
  return Promise.race([
    settled,
    new Promise<string>((resolve) => setTimeout(resolve, 0, 'pending')),
  ])
}

describe('a client that ends on its own', () => {
  it('rejects its pending requests with the error that ended it', async () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    const forever = client.request('slow', null, { timeoutMs: Infinity })
    const timed = client.request('slow', null)
    const receipt = client.delivered(client.send('m', 1))
    FakeWebSocket.last.serverClose(4401, 'unauthenticated')
    expect(client.state.status).toBe('closed')
    expect(await outcome(receipt)).toBe('UNAUTHENTICATED')
    expect(await outcome(forever)).toBe('UNAUTHENTICATED')
    expect(await outcome(timed)).toBe('UNAUTHENTICATED')
    // No timer is left for them.
    expect(clock.pending).toBe(0)
  })
})
